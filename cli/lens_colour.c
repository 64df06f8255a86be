/*
 * lens_colour.c - the colour ramp of the lens table and its terminal escape
 * codes: viridis (perceptually ordered, readable in grey and by most colour-
 * blind readers), in 24-bit colour or its xterm-256 cube approximation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lens_output.h"

/* Viridis sampled at nine evenly spaced points, dark to bright; the ramp
 * interpolates linearly between them. */
static const lens_rgb viridis[] = {
    {0x44, 0x01, 0x54}, {0x47, 0x2D, 0x7B}, {0x3B, 0x52, 0x8B}, {0x2C, 0x72, 0x8E}, {0x21, 0x90, 0x8C},
    {0x27, 0xAD, 0x81}, {0x5D, 0xC8, 0x63}, {0xAA, 0xDC, 0x32}, {0xFD, 0xE7, 0x25},
};
enum { VIRIDIS_POINTS = sizeof viridis / sizeof viridis[0] };

lens_rgb lens_colour_ramp(double t) {
    if (!(t > 0.0)) t = 0.0;
    if (t > 1.0) t = 1.0;
    double at = t * (VIRIDIS_POINTS - 1);
    int i = (int)at;
    if (i >= VIRIDIS_POINTS - 1) return viridis[VIRIDIS_POINTS - 1];
    double f = at - i;
    lens_rgb a = viridis[i], b = viridis[i + 1];
    lens_rgb c = {
        (unsigned char)lround(a.r + f * (b.r - a.r)),
        (unsigned char)lround(a.g + f * (b.g - a.g)),
        (unsigned char)lround(a.b + f * (b.b - a.b)),
    };
    return c;
}

/* The intensities of the six levels of each channel of the xterm cube. */
static const int cube_levels[6] = {0, 95, 135, 175, 215, 255};

static int nearest_cube_level(int value) {
    int best = 0;
    for (int i = 1; i < 6; i++)
        if (abs(cube_levels[i] - value) < abs(cube_levels[best] - value)) best = i;
    return best;
}

int lens_colour_xterm_index(lens_rgb c) {
    return 16 + 36 * nearest_cube_level(c.r) + 6 * nearest_cube_level(c.g) + nearest_cube_level(c.b);
}

/* The colour an xterm shows for a cube index. */
static lens_rgb xterm_cube_colour(int index) {
    int i = index - 16;
    lens_rgb c = {(unsigned char)cube_levels[i / 36], (unsigned char)cube_levels[(i / 6) % 6],
                  (unsigned char)cube_levels[i % 6]};
    return c;
}

/* WCAG relative luminance of an sRGB colour, 0 .. 1. */
static double relative_luminance(lens_rgb c) {
    double channel[3] = {c.r / 255.0, c.g / 255.0, c.b / 255.0};
    for (int i = 0; i < 3; i++)
        channel[i] = channel[i] <= 0.04045 ? channel[i] / 12.92 : pow((channel[i] + 0.055) / 1.055, 2.4);
    return 0.2126 * channel[0] + 0.7152 * channel[1] + 0.0722 * channel[2];
}

bool lens_colour_black_text_on(lens_rgb c) {
    double luminance = relative_luminance(c);
    return (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05);
}

void lens_colour_begin(FILE *out, lens_colour_mode mode, lens_rgb c) {
    if (mode == LENS_COLOUR_TRUE) {
        bool black = lens_colour_black_text_on(c);
        fprintf(out, "\x1b[48;2;%d;%d;%dm\x1b[38;2;%d;%d;%dm", c.r, c.g, c.b, black ? 0 : 255, black ? 0 : 255,
                black ? 0 : 255);
    } else if (mode == LENS_COLOUR_256) {
        int index = lens_colour_xterm_index(c);
        bool black = lens_colour_black_text_on(xterm_cube_colour(index));
        fprintf(out, "\x1b[48;5;%dm\x1b[38;5;%dm", index, black ? 16 : 231);
    }
}

void lens_colour_end(FILE *out, lens_colour_mode mode) {
    if (mode != LENS_COLOUR_NONE) fputs("\x1b[0m", out);
}

lens_colour_mode lens_colour_mode_for(const char *choice) {
    bool colour;
    if (strcmp(choice, "always") == 0) {
        colour = true;
    } else if (strcmp(choice, "never") == 0) {
        colour = false;
    } else {
        const char *no_colour = getenv("NO_COLOR");
        colour = isatty(STDOUT_FILENO) && (no_colour == NULL || no_colour[0] == '\0');
    }
    if (!colour) return LENS_COLOUR_NONE;
    const char *depth = getenv("COLORTERM");
    if (depth != NULL && (strcmp(depth, "truecolor") == 0 || strcmp(depth, "24bit") == 0)) return LENS_COLOUR_TRUE;
    return LENS_COLOUR_256;
}
