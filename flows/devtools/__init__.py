"""Developer tools, apart from the product: synthetic pages and benchmarks."""
