"""What the pipeline tells beyond the portal's own figures.

- `early_warning`: each night, what a unit must act on before the portal counts it (cảnh báo sớm)
- `forecast`: the month-end forecast of each unit's index (dự báo), and its back-test
- `score_change`: why a score moved against the previous month (vì sao điểm thay đổi)
"""
