"""Image automation (SPEC §12, Flux's model), started and stopped by the controller manager.

running     `ImageAutomation`: informers for the three kinds and the loop that runs what is due
scanning    ImageRepository tag scans and ImagePolicy choices (status.lastScanResult, latestImage)
updating    one ImageUpdateAutomation run: which repository, which files, the commit message
gitwork     clone, commit (optionally signed), push without force, retry when the remote moved
signing     the signing key of a Secret (OpenPGP `git.asc` or SSH `identity`, as Flux's) and its signer
markers     the `# {"$imagepolicy": ...}` setter (pure text in, text out)
specs       the three specs, validated against gitward.core.identifiers' grammars
"""
