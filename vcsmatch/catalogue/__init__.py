"""The service catalogue: the service model, Open Referral importers and exporter, crosswalks."""
