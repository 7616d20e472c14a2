"""Moving data in and out: the MT-Bench judgment format, exports (JSONL, CSV, Parquet, DPO
pairs) and database backup and restore.
"""
