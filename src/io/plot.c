/* plot.c — see plot.h. Every panel maps its data box to a pixel box:
 *   px = left + (x − x0)/(x1 − x0) · width,   py = bottom − (y − y0)/(y1 − y0) · height
 * (y in log10 on a log axis); ticks are the multiples of a "nice" step, the
 * first of 1, 2, 5, 10 × 10^⌊log10 raw⌋ at or above raw = range / 5. */
#include "src/io/plot.h"

#include <cairo.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "src/error.h"
#include "src/io/png.h"

#define MARGIN_LEFT 78
#define MARGIN_RIGHT 18
#define MARGIN_TOP 34
#define MARGIN_BOTTOM 52

/* Tableau's ten colours: distinct in print and for most colour-blind readers. */
static const double PALETTE[10][3] = {
    {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173}, {0.839, 0.153, 0.157},
    {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294}, {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498},
    {0.737, 0.741, 0.133}, {0.090, 0.745, 0.812},
};

typedef struct {
    double x0, x1, y0, y1;          /* data box (y in log10 on a log axis) */
    double left, top, width, height; /* pixel box */
    int log_y;
    int x_integral;                  /* every x a whole number (layers, steps): no fractional ticks */
} frame;

/* The plotted y of a data value: log10 on a log axis; NaN for a gap. */
static double axis_y(const frame *f, double y) {
    if (!isfinite(y)) return NAN;
    if (f->log_y) return y > 0 ? log10(y) : NAN;
    return y;
}
static double px(const frame *f, double x) { return f->left + (x - f->x0) / (f->x1 - f->x0) * f->width; }
static double py(const frame *f, double y) { return f->top + f->height - (y - f->y0) / (f->y1 - f->y0) * f->height; }

static void widen(double *lo, double *hi, double v) {
    if (!isfinite(v)) return;
    if (v < *lo) *lo = v;
    if (v > *hi) *hi = v;
}

/* The data box of a panel; fails if it has no finite point. */
static int panel_frame(const plot_panel *p, frame *f) {
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    f->log_y = p->log_y;
    for (int s = 0; s < p->nseries; s++) {
        const plot_series *ser = &p->series[s];
        for (int i = 0; i < ser->n; i++) {
            double y = axis_y(f, ser->y[i]);
            if (!isfinite(y) || !isfinite(ser->x[i])) continue;
            widen(&x0, &x1, ser->x[i]);
            double sp = ser->spread && isfinite(ser->spread[i]) ? ser->spread[i] : 0;
            widen(&y0, &y1, axis_y(f, ser->y[i] - sp));
            widen(&y0, &y1, axis_y(f, ser->y[i] + sp));
            widen(&y0, &y1, y);
        }
    }
    if (!(x0 <= x1)) return crate_fail(CRATE_EINPUT, "plot '%s': no finite point to draw", p->title ? p->title : "");
    widen(&y0, &y1, axis_y(f, p->reference));
    if (x1 == x0) x0 -= 0.5, x1 += 0.5;
    if (y1 == y0) y0 -= y0 ? fabs(y0) * 0.1 : 0.5, y1 += y1 ? fabs(y1) * 0.1 : 0.5;
    double pad = 0.06 * (y1 - y0), xpad = 0.03 * (x1 - x0);
    f->x0 = x0 - xpad, f->x1 = x1 + xpad, f->y0 = y0 - pad, f->y1 = y1 + pad;
    f->x_integral = 1;
    for (int s = 0; s < p->nseries; s++)
        for (int i = 0; i < p->series[s].n; i++) f->x_integral &= p->series[s].x[i] == floor(p->series[s].x[i]);
    return CRATE_OK;
}

static double nice_step(double range) {
    double raw = range / 5, mag = pow(10, floor(log10(raw)));
    for (int k = 0; k < 3; k++) {
        const double m[3] = {1, 2, 5};
        if (m[k] * mag >= raw) return m[k] * mag;
    }
    return 10 * mag;
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double align_x, double align_y) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - align_x * e.width - e.x_bearing, y + align_y * e.height - (e.height + e.y_bearing));
    cairo_show_text(cr, s);
}

static void draw_axes(cairo_t *cr, const frame *f, const plot_panel *p) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, f->left, f->top, f->width, f->height);
    cairo_fill(cr);
    cairo_set_font_size(cr, 12);
    char label[64];
    /* x ticks and vertical grid */
    double step = nice_step(f->x1 - f->x0);
    if (f->x_integral && step < 1) step = 1;
    for (double t = ceil(f->x0 / step) * step; t <= f->x1 + 1e-9 * step; t += step) {
        double x = px(f, t);
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, x, f->top), cairo_line_to(cr, x, f->top + f->height), cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        snprintf(label, sizeof label, "%g", fabs(t) < 1e-12 * step ? 0.0 : t);
        text_at(cr, x, f->top + f->height + 6, label, 0.5, 1);
    }
    /* y ticks: multiples of a nice step; on a log axis m × 10^k, with the
     * mantissas m a span of that many decades can label legibly */
    static const double DENSE[] = {1, 1.5, 2, 3, 4, 5, 6, 8}, SOME[] = {1, 2, 5}, DECADE[] = {1};
    double span = f->y1 - f->y0, ticks[64];
    int nticks = 0;
    step = nice_step(span);
    if (f->log_y) {
        const double *m = span < 1 ? DENSE : span < 2.5 ? SOME : DECADE;
        int nm = span < 1 ? 8 : span < 2.5 ? 3 : 1;
        for (double k = floor(f->y0); k <= ceil(f->y1) && nticks < 60; k += span < 6 ? 1 : ceil(span / 6))
            for (int i = 0; i < nm; i++) {
                double t = k + log10(m[i]);
                if (t >= f->y0 && t <= f->y1) ticks[nticks++] = t;
            }
    } else {
        for (double t = ceil(f->y0 / step) * step; t <= f->y1 + 1e-9 * step && nticks < 60; t += step)
            ticks[nticks++] = fabs(t) < 1e-12 * step ? 0.0 : t;
    }
    for (int i = 0; i < nticks; i++) {
        double y = py(f, ticks[i]);
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, f->left, y), cairo_line_to(cr, f->left + f->width, y), cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        snprintf(label, sizeof label, "%.3g", f->log_y ? pow(10, ticks[i]) : ticks[i]);
        text_at(cr, f->left - 6, y, label, 1, 0.5);
    }
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_rectangle(cr, f->left, f->top, f->width, f->height);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 13);
    if (p->xlabel) text_at(cr, f->left + f->width / 2, f->top + f->height + 28, p->xlabel, 0.5, 1);
    if (p->ylabel) {
        cairo_save(cr);
        cairo_translate(cr, f->left - 60, f->top + f->height / 2);
        cairo_rotate(cr, -M_PI / 2);
        text_at(cr, 0, 0, p->ylabel, 0.5, 0.5);
        cairo_restore(cr);
    }
    if (p->title) {
        cairo_set_font_size(cr, 14);
        text_at(cr, f->left + f->width / 2, f->top - 20, p->title, 0.5, 0.5);
    }
}

/* The ± band of a series: upper edge left to right, lower edge back. */
static void draw_band(cairo_t *cr, const frame *f, const plot_series *s, const double *rgb) {
    int started = 0;
    for (int i = 0; i < s->n; i++) {
        double y = axis_y(f, s->y[i] + s->spread[i]);
        if (!isfinite(y)) continue;
        if (started++) cairo_line_to(cr, px(f, s->x[i]), py(f, y));
        else cairo_move_to(cr, px(f, s->x[i]), py(f, y));
    }
    for (int i = s->n - 1; i >= 0; i--) {
        double y = axis_y(f, s->y[i] - s->spread[i]);
        if (!isfinite(y)) y = f->y0;
        if (started) cairo_line_to(cr, px(f, s->x[i]), py(f, y));
    }
    cairo_close_path(cr);
    cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], 0.18);
    cairo_fill(cr);
}

static void draw_series(cairo_t *cr, const frame *f, const plot_series *s, const double *rgb) {
    if (s->spread) draw_band(cr, f, s, rgb);
    cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
    cairo_set_line_width(cr, 2);
    int pen = 0;
    for (int i = 0; i < s->n; i++) {
        double y = axis_y(f, s->y[i]);
        if (!isfinite(y) || !isfinite(s->x[i])) {
            pen = 0;
            continue;
        }
        if (pen) cairo_line_to(cr, px(f, s->x[i]), py(f, y));
        else cairo_move_to(cr, px(f, s->x[i]), py(f, y));
        pen = 1;
    }
    cairo_stroke(cr);
    for (int i = 0; s->markers && i < s->n; i++) {
        double y = axis_y(f, s->y[i]);
        if (!isfinite(y)) continue;
        cairo_arc(cr, px(f, s->x[i]), py(f, y), 3.5, 0, 2 * M_PI);
        cairo_fill(cr);
    }
    cairo_set_line_width(cr, 1);
}

static void draw_reference(cairo_t *cr, const frame *f, const plot_panel *p) {
    double y = axis_y(f, p->reference);
    if (!isfinite(y)) return;
    const double dash[] = {6, 4};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
    cairo_move_to(cr, f->left, py(f, y)), cairo_line_to(cr, f->left + f->width, py(f, y)), cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    if (p->reference_label) {
        cairo_set_font_size(cr, 11);
        text_at(cr, f->left + 6, py(f, y) - 4, p->reference_label, 0, 0);
    }
}

static void draw_legend(cairo_t *cr, const frame *f, const plot_panel *p) {
    int listed = 0;
    double widest = 0;
    cairo_set_font_size(cr, 12);
    for (int s = 0; s < p->nseries; s++) {
        if (!p->series[s].label) continue;
        cairo_text_extents_t e;
        cairo_text_extents(cr, p->series[s].label, &e);
        widest = fmax(widest, e.x_advance);
        listed++;
    }
    if (!listed) return;
    double w = widest + 40, h = 18.0 * listed + 8, x = 0, y = 0;
    /* The corner (top right, top left, bottom right, bottom left) whose box
     * covers the fewest points of the curves. */
    long fewest = -1;
    for (int corner = 0; corner < 4; corner++) {
        double cx = corner % 2 ? f->left + 8 : f->left + f->width - w - 8;
        double cy = corner < 2 ? f->top + 8 : f->top + f->height - h - 8;
        long covered = 0;
        for (int s = 0; s < p->nseries; s++)
            for (int i = 0; i < p->series[s].n; i++) {
                double yy = axis_y(f, p->series[s].y[i]);
                if (!isfinite(yy)) continue;
                double qx = px(f, p->series[s].x[i]), qy = py(f, yy);
                covered += qx >= cx - 4 && qx <= cx + w + 4 && qy >= cy - 4 && qy <= cy + h + 4;
            }
        if (fewest < 0 || covered < fewest) fewest = covered, x = cx, y = cy;
    }
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
    cairo_stroke(cr);
    for (int s = 0, row = 0; s < p->nseries; s++) {
        if (!p->series[s].label) continue;
        const double *rgb = PALETTE[s % 10];
        double cy = y + 13 + 18.0 * row++;
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, x + 6, cy), cairo_line_to(cr, x + 28, cy), cairo_stroke(cr);
        cairo_set_line_width(cr, 1);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text_at(cr, x + 34, cy, p->series[s].label, 0, 0.5);
    }
}

/* Cairo's pixels (native-endian 0xAARRGGBB, opaque here) as RGB bytes. */
static uint8_t *surface_rgb(cairo_surface_t *surface, int w, int h) {
    uint8_t *rgb = crate_malloc((size_t)w * h * 3, "plot pixels");
    const unsigned char *data = cairo_image_surface_get_data(surface);
    int stride = cairo_image_surface_get_stride(surface);
    for (int i = 0; rgb && i < h; i++)
        for (int j = 0; j < w; j++) {
            uint32_t v = *(const uint32_t *)(data + (size_t)i * stride + 4 * (size_t)j);
            uint8_t *o = rgb + ((size_t)i * w + j) * 3;
            o[0] = (uint8_t)(v >> 16), o[1] = (uint8_t)(v >> 8), o[2] = (uint8_t)v;
        }
    return rgb;
}

int plot_write_png(const char *path, const plot_panel *panels, int npanels, int panel_w, int panel_h) {
    if (npanels < 1 || panel_w < 100 || panel_w > 4000 || panel_h < 100 || panel_h > 4000)
        return crate_fail(CRATE_EINPUT, "plot '%s': %d panels of %dx%d pixels (1 or more, 100 to 4000)", path,
                          npanels, panel_w, panel_h);
    frame frames[npanels];
    for (int k = 0; k < npanels; k++) {
        int rc = panel_frame(&panels[k], &frames[k]);
        if (rc != CRATE_OK) return crate_fail_context(rc, "%s", path);
        frames[k].left = k * panel_w + MARGIN_LEFT, frames[k].top = MARGIN_TOP;
        frames[k].width = panel_w - MARGIN_LEFT - MARGIN_RIGHT, frames[k].height = panel_h - MARGIN_TOP - MARGIN_BOTTOM;
    }
    int w = npanels * panel_w, h = panel_h;
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 0.97, 0.97, 0.97);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_line_width(cr, 1);
    for (int k = 0; k < npanels; k++) {
        const frame *f = &frames[k];
        draw_axes(cr, f, &panels[k]);
        cairo_save(cr);
        cairo_rectangle(cr, f->left, f->top, f->width, f->height);
        cairo_clip(cr);
        draw_reference(cr, f, &panels[k]);
        for (int s = 0; s < panels[k].nseries; s++) draw_series(cr, f, &panels[k].series[s], PALETTE[s % 10]);
        cairo_restore(cr);
        draw_legend(cr, f, &panels[k]);
    }
    cairo_surface_flush(surface);
    int rc = cairo_status(cr) == CAIRO_STATUS_SUCCESS
                 ? CRATE_OK
                 : crate_fail(CRATE_EINTERNAL, "plot '%s': cairo: %s", path, cairo_status_to_string(cairo_status(cr)));
    uint8_t *rgb = rc == CRATE_OK ? surface_rgb(surface, w, h) : NULL;
    if (rc == CRATE_OK) rc = rgb ? crate_png_write(path, rgb, w, h, 3) : CRATE_EINTERNAL;
    free(rgb);
    cairo_destroy(cr);
    cairo_surface_destroy(surface);
    return rc;
}
