"""A local SparkSession for the command line and tests (Airflow tasks get theirs from spark_default)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Small shuffles: the default 200 partitions cost more than they help on one machine.
LOCAL_CONF = {
    "spark.sql.shuffle.partitions": "4",
    # A job reads a few months of day partitions, each named by path: listing them on the driver takes
    # milliseconds, where a listing job (Spark's default above 32 paths) costs a second of tasks.
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "1024",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    # 1 GiB of heap is ample for a day of features and keeps a 1M-row scoring run under 2 GiB in all.
    "spark.driver.memory": "1g",
    # G1 grows the heap towards its maximum before collecting and keeps it, so the JVM's memory rose with
    # the rows scored (0.72 to 1.00 GiB RSS from 1M to 3M rows); the serial collector held it at 0.63 to
    # 0.69 GiB, no slower. One JVM on a couple of cores gains nothing from a parallel collector.
    "spark.driver.extraJavaOptions": "-XX:+UseSerialGC",
}


def use_this_interpreter_for_workers() -> None:
    """Python workers (mapInPandas scoring) run this interpreter unless PYSPARK_PYTHON says otherwise.

    Otherwise PySpark starts whatever `python3` is first on PATH, which need not have
    nightshift, pandas and xgboost. A cluster sets PYSPARK_PYTHON for its executors.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def local_session(app_name: str = "nightshift", master: str = "local[2]") -> SparkSession:
    from pyspark.sql import SparkSession

    use_this_interpreter_for_workers()
    builder = SparkSession.builder.appName(app_name).master(master)
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
