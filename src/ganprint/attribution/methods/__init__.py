"""Attribution methods behind one interface (:class:`~ganprint.attribution.methods.base.AttributionMethod`)."""
