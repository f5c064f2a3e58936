"""One self-contained HTML report of some runs (`localtrack ui --export`, the sync daemon's
`localtrack/report.html` artifact): the scalars charts M4-reduced as the server reduces them,
the hparams table, the last image of each image tag, and for one run's report its histograms,
texts, PR curves and meshes. Everything is inlined (uPlot, the page's script, the data), so the
file opens with no server and no network."""
