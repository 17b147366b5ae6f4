"""Image automation (SPEC §12, Flux's model): ImageRepository scans, ImagePolicy selects,
ImageUpdateAutomation writes the selected images back to Git. Started by the controller manager."""
