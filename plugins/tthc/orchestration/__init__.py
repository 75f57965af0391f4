"""Running the pipeline: what the DAGs' tasks call, and how commands run the DAGs.

- `connections`: the sources and sinks as Airflow connections and the output Variable
- `runtime`: what a task takes from its Airflow run (period, cut-off, send flag)
- `pipeline`: the steps the DAGs wire together
- `airflow_runner`: runs a DAG through `dag.test()` for the command line and the tests
- `embedded`: the embedded default installation (SQLite, a generated province, the national mock)
"""
