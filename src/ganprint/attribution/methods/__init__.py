"""Attribution methods (PAPERS §1.4–1.5, §1.7, §3.2, §4): one :class:`~.base.AttributionMethod` per registered name."""
