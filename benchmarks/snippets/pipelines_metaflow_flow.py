"""Metaflow 2.19: the workload as a foreach fan-out of 18 branches and a join."""

from metaflow import FlowSpec, step


class FanFlow(FlowSpec):
    @step
    def start(self):
        from pipelines_workload import WIDTH, source

        self.frame = source()
        self.indices = list(range(WIDTH))
        self.next(self.small, foreach="indices")

    @step
    def small(self):
        from pipelines_workload import small

        self.value = small(self.frame, self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        from pipelines_workload import join

        self.total = join([branch.value for branch in inputs])
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FanFlow()
