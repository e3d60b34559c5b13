"""Alembic's script directory for the durable table, shipped inside the package so an
installed gateway can migrate its database; run it through ``migrate.py``
(``presence-gateway db upgrade``), not the ``alembic`` command, which needs an ini file."""
