"""Speed, memory and throughput benchmarks (each file's docstring has its command and stored result)."""
