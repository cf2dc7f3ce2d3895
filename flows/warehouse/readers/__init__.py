"""Readers of the warehouse: small queries returning plain values, one module per audience.

- `status`: `bulletins status` and a run's summary (files by status, bulletins left out,
  each city's latest week and how old it is, what a run's batches became); `inbox_presence`:
  which recorded entries are still in the inbox;
- `report`, `report_sources`: the weekly report (a city's published weeks, the marts' rows;
  where each bulletin was printed, its failed and accepted checks);
- `export`: exports and the lake's copy of the marts (a mart whole);
- `notify`: a run's notifications (its problem files, the weeks it loaded, long streaks);
- `shared`: the SQL fragments they share.

Each function takes an open DuckDB connection and tolerates a warehouse that has no marts yet.
"""
