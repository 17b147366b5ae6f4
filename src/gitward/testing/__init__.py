"""Test beds that ship with gitward, shared by its test suite (tests/) and its benchmarks (bench/).

Never imported by gitward itself (import-linter forbids it: `lint-imports`). tests/ and bench/
import this package, not each other:

    gitrepos    `Repo`: commits (files, symlinks, deletions, fixed authors and dates), branches,
                tags, pushes; `BareRepos`, `init_bare`, `run_git`, `git_env`
    githttp     `GitHttpServer`: a real smart-HTTP Git server (`git http-backend`) on loopback,
                with optional Basic/Bearer authentication, recording every request
    registries  `Registry`: a real OCI registry (Debian's docker-registry) on loopback, HTTPS with
                its own CA and htpasswd, or plain HTTP; `oras_client()` to push with
    upstream_registry   `ensure()`: the upstream distribution registry v3 (which pages tag lists),
                built once from its Go module into the cache, for `Registry(binary=...)`
"""
