"""Residents in the loop (issue 23), the public channel: 随手拍 reports, 附议, progress lookup and rating on
light server-rendered pages under ``/public/`` (:mod:`dashboard.residents.web`), and the abuse controls the
operators use (:mod:`dashboard.residents.abuse`: ``mark_spam``, ``block_phone``, ``block_reporter``,
``unblock_phone``, ``blocked_phones``). Tables (migration 0007, :mod:`models.resident`): ``public_reports``
(a resident's lookup credential and rating; ``rating_counted`` = 居民自评 as the 回访 result),
``case_supporters`` (附议), ``public_attempts`` (limits and locks), ``blocked_phones``. A grid's QR code
points at ``/public/report?grid=<grid code>``. Nothing here imports Streamlit."""
