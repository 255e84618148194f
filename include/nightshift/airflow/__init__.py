"""What tasks need from Airflow: the run's date, default args, connections and the Assets the DAGs share."""
