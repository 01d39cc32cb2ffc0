"""The pages (thin views: reads in selectors, writes in services)."""
