"""The Airflow side of the pipeline that is not the DAG itself: a sensor and its trigger.

``dags/etl_pipeline.py`` imports from here; the triggerer imports the triggers by their class
path, so this package must be importable by every Airflow component (``PYTHONPATH`` holds the
project folder). Like the DAG file, nothing here touches a database or the network on import.
"""
