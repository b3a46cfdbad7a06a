"""Loaders: land raw data in the lake and the warehouse's raw schema.

Plain Python, no Airflow: every loader takes plain inputs (paths, a day, connection settings)
and returns counts you can assert on. ``python -m loaders --help`` lists the commands.
"""
