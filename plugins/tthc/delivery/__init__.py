"""Telling people things: the office's monthly documents, the engineers' alerts, the mail.

- `office`: the month's documents delivered to the office exactly once (delivery ledger)
- `alerts`: quality-gate alerts and one-off alerts to the data engineers (alert ledger)
- `failure_notifier`: the Airflow notifier every DAG calls when a task fails
- `mail`: building messages, sending them through `smtp_default`, posting to the webhook
"""
