"""gitward's benchmark suite: every scenario of issue 5, side by side with its baselines.

Run with `make bench` (or `.venv/bin/python -m bench [--only 1,2] [--quick]`). The suite starts its
own embedded control plane and smart-HTTP Git server, runs gitward as a real `gitward run` process,
measures each scenario together with its baselines (`kubectl apply --server-side` and the "floors",
bare server-side-apply requests: 8 connections with dry-run + apply, 8 without, and sequential) in
the same run, prints one table and writes it as JSON to `bench/results/latest.json` (and a
full-size run to `bench/results/<date>T<time>Z.json`, committed when published; `python -m
bench.report docs --run FILE` writes its table into docs/performance.md). Benchmarks are not
tests: CI does not run them.

    __main__      command line
    environment   control plane, Git server, CRDs, namespaces, clean-up (the bench's fixtures)
    apiserver     the admin HTTP client: request counts from the API server's /metrics, the floors
    watching      watch streams in a thread, to time events without polling
    controller    `gitward run` as a process: readiness, CPU and RSS from /proc, optional py-spy
    processes     CPU time and RSS from /proc, the peak sampler, stopping (gitward and its peers)
    workloads     manifests and Git repositories the scenarios deploy
    kubectl       the `kubectl apply --server-side` baseline
    report        result rows, the table, the JSON file, the docs' table (`python -m bench.report docs`)
    scenarios/    one module per scenario family (single app, latency, fleet, memory, large app)
"""
