"""Point-in-time features and labels, and the Spark jobs that build them.

- `point_in_time`: features of customers as of a date, and their labels, on Spark DataFrames.
- `jobs`: the scoring day's feature set and the labelled training set, written to Parquet.
- `spark_session`: a local SparkSession for the command line, tests and benchmarks.
"""
