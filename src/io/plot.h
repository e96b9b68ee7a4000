/* plot.h — line plots as PNG files: crate-analyze's per-layer curves and
 * crate-plot's training curves. Drawn with Cairo (Debian's libcairo2-dev:
 * antialiased lines and text), encoded by src/io/png.h (written atomically).
 *
 * A figure is a row of panels side by side; each panel has its own axes
 * (ticks at 1, 2 or 5 × 10^k, or decades on a log axis), any number of
 * series (a line with a marker at every point, an optional ± band), an
 * optional horizontal reference line (a bound), and a legend.
 */
#ifndef CRATE_IO_PLOT_H
#define CRATE_IO_PLOT_H

typedef struct {
    const char *label;       /* in the legend; NULL: not listed */
    const double *x, *y;     /* n points; non-finite y values are gaps */
    const double *spread;    /* NULL, or ± around y, drawn as a band */
    int n;
    int markers;             /* a dot at every point (few points: layers) */
} plot_series;

typedef struct {
    const char *title, *xlabel, *ylabel;
    const plot_series *series;
    int nseries;
    int log_y;               /* log10 y axis (losses); non-positive y are gaps */
    double reference;        /* a dashed horizontal line at this y, if finite */
    const char *reference_label;
} plot_panel;

/* Renders the panels left to right, each panel_w × panel_h pixels, and
 * writes the PNG to path. Fails (naming path) on a panel with no finite
 * point, a size outside 100..4000, or a write error. */
int plot_write_png(const char *path, const plot_panel *panels, int npanels, int panel_w, int panel_h);

#endif
