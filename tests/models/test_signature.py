from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.errors import InvalidInput
from steward.models.signature import Signature, enforce, infer_signature, numeric_rows


def _signature() -> Signature:
    example = pd.DataFrame({"age": [30, 40], "dose": [1.5, None], "site": ["a", "b"]})
    return infer_signature(example, np.array([0, 1]))


def test_inferred_columns_dtypes_and_optional() -> None:
    signature = _signature()
    assert signature.kind == "columns"
    specs = {spec.name: spec for spec in signature.inputs}
    assert specs["age"].dtype == "int64" and specs["age"].required
    assert specs["dose"].dtype == "float64" and not specs["dose"].required
    assert specs["site"].dtype == "string"
    assert signature.outputs[0].dtype == "int64"
    assert Signature.from_dict(signature.to_dict()) == signature


def test_accepts_dict_records_and_frame() -> None:
    signature = _signature()
    one = enforce(signature, {"age": 3, "dose": 2.0, "site": "a"})
    records = enforce(signature, [{"age": 3, "dose": 2.0, "site": "a"}] * 2)
    assert list(one.columns) == ["age", "dose", "site"] and len(records) == 2


def test_missing_required_column_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"missing required column\(s\) \['age'\]"):
        enforce(_signature(), {"dose": 1.0, "site": "a"})


def test_missing_optional_column_is_filled() -> None:
    result = enforce(_signature(), {"age": 1, "site": "a"})
    assert result["dose"].isna().all()


def test_extra_column_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"unexpected column\(s\) \['colour'\]"):
        enforce(_signature(), {"age": 1, "dose": 1.0, "site": "a", "colour": "red"})


def test_wrong_type_is_refused() -> None:
    with pytest.raises(InvalidInput, match="column 'age' has type string"):
        enforce(_signature(), {"age": "old", "dose": 1.0, "site": "a"})
    with pytest.raises(InvalidInput, match="column 'age' has type float64"):
        enforce(_signature(), {"age": 1.5, "dose": 1.0, "site": "a"})


def test_int_to_float_is_a_safe_cast() -> None:
    result = enforce(_signature(), {"age": 1, "dose": 2, "site": "a"})
    assert result["dose"].dtype == np.float64


def test_tensor_signature_checks_width_and_casts() -> None:
    signature = infer_signature(np.zeros((3, 4)))
    assert signature.kind == "tensor"
    assert enforce(signature, np.ones((2, 4), dtype=np.int32)).dtype == np.float64
    assert enforce(signature, [1, 2, 3, 4]).shape == (1, 4)
    with pytest.raises(InvalidInput, match="shape"):
        enforce(signature, np.ones((2, 5)))
    with pytest.raises(InvalidInput, match="cannot be converted"):
        enforce(signature, np.array([["a", "b", "c", "d"]]))


@given(
    st.lists(
        st.tuples(st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False)),
        min_size=1,
        max_size=20,
    )
)
def test_enforce_keeps_values_of_valid_input(rows: list[tuple[int, float]]) -> None:
    signature = infer_signature(pd.DataFrame({"n": [1], "x": [0.5]}))
    records = [{"x": x, "n": n} for n, x in rows]
    result = enforce(signature, records)
    assert list(result.columns) == ["n", "x"]
    assert result["n"].tolist() == [n for n, _ in rows]
    assert result["x"].tolist() == [x for _, x in rows]


def test_arrays_for_numeric_columns_skip_the_dataframe_and_agree_with_it() -> None:
    from steward.serving.validation import validate_rows

    frame = pd.DataFrame({"age": [30.0, 41.5], "visits": [1.0, 4.0], "dose": [0.5, None]})
    signature = infer_signature(frame)
    ints = np.array([[30, 1, 2], [41, 4, 3]])
    fast = enforce(signature, ints, arrays=True)
    assert isinstance(fast, np.ndarray) and fast.dtype == np.float64
    slow = enforce(signature, ints)
    assert isinstance(slow, pd.DataFrame)
    np.testing.assert_array_equal(fast, slow.to_numpy(dtype=np.float64))
    # NaN is allowed in the optional column only; infinity nowhere.
    optional = np.array([[30.0, 1.0, np.nan]])
    assert np.isnan(validate_rows(signature, optional, 10, arrays=True)[0, 2])
    with pytest.raises(InvalidInput, match="'age' holds a missing value"):
        validate_rows(signature, np.array([[np.nan, 1.0, 2.0]]), 10, arrays=True)
    with pytest.raises(InvalidInput, match="'visits' holds an infinite"):
        validate_rows(signature, np.array([[1.0, np.inf, 2.0]]), 10, arrays=True)
    # Floats cannot go into an integer column safely: the general path says which column.
    strict = infer_signature(pd.DataFrame({"visits": [1, 2], "rooms": [3, 4]}))
    with pytest.raises(InvalidInput, match="'visits' has type float64"):
        enforce(strict, np.array([[1.5, 2.0]]), arrays=True)
    # Strings are never taken as numbers: a signature with a string column has no array path.
    mixed = infer_signature(pd.DataFrame({"site": ["a"], "age": [1.0]}))
    assert numeric_rows(mixed, np.array([[1.0, 1.0]])) is None
