from __future__ import annotations

from typing import Any

from steward import models
from steward.demo import REGISTERED_MODEL, run_demo


def test_demo_registers_its_best_model_as_champion_with_a_card(workspace: Any) -> None:
    result = run_demo(seed=1)
    champion = models.resolve(f"models:/{REGISTERED_MODEL}@champion")
    assert champion.run_id == result.best_run_id
    assert champion.status is models.VersionStatus.APPROVED
    assert "test_roc_auc" in champion.metrics
    assert result.card_path is not None and result.card_path.is_file()
    assert "Not for clinical use" in result.card_path.read_text()
    loaded = models.load(f"models:/{REGISTERED_MODEL}@champion")
    assert loaded.predict(loaded.input_example).shape == (5,)
