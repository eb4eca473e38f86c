"""The vehicle service: Vehicle records, first registration, reissues, inspections and temporary plates."""
