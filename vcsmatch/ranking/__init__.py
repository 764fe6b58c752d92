"""The hybrid ranker: candidates, content, collaborative, priors, blend, diversity, reasons."""
