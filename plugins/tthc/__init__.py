"""Huế service-index scorecards (Chỉ số phục vụ người dân, doanh nghiệp).

Core modules: `config` (the province's validated YAML files), `calendar` (working time),
`periods` (reporting periods), `paths` (where SQL, templates and config live), `cli`
(the `tthc-scorecards` command). Packages, in the order data flows through them:

- `extract/`: the provincial replica and the national services into staged tables
- `quality/`: the quality gate (Great Expectations), quarantine, exclusions
- `indicators/`: every indicator, duty, unit score and rank of a period
- `reports/`: the month's folder — CSV, scorecards and ranked lists (PDF, XLSX)
- `delivery/`: telling people things — the office's delivery, engineers' alerts, mail
- `insights/`: beyond the portal — early warning, month-end forecast, score change
- `warehouse/`: the warehouse's tables and engines
- `orchestration/`: connections, what tasks take from their run, the pipeline's steps
- `sim/`: the simulator of the sources (generator, national mock)
"""
