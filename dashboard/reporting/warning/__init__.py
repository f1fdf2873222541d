"""Early warning (研判预警): what is unusual and what is about to go wrong, computed once a day and stored.

- :mod:`spikes` — counts per grid × category and community × category against their expected counts
  (异常增长);
- :mod:`repeats` — the same building, the same reporter's phone, a case reopened or reworked twice (重复诉求);
- :mod:`hotspots` — Getis-Ord Gi* over the grids' adjacency, per category (热点);
- :mod:`risk` — each open case's calibrated probability of missing its deadline, and why (超期风险);
- :mod:`run` — the job: claims the day, computes all, replaces the day's alerts in one transaction;
- :mod:`schedule` — the daemon thread that runs the job each morning inside the app process;
- :mod:`store` — what the screens read (alerts, case risks, the hotspot layer) and the actions on an alert.

Screens import :mod:`store` only; it loads neither numpy models nor scikit-learn.
"""
