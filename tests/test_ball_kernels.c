/*
 * test_ball_kernels.c - the ball kernels on inputs whose exact answers are
 * known independently: the adversarial product of ball_adversarial.h (exact
 * result 1 by hand, lost to rounding in the midpoint), and the GELU and
 * SiLU images of balls around their minimum and elsewhere, held against the
 * double-precision reference activations (kernels/activations.h) on a dense
 * grid of points inside each ball. A ball kernel may be loose but never
 * miss: every point's value must lie inside.
 */
#include <math.h>
#include <stdio.h>

#include "ball_adversarial.h"
#include "interval/ball_activations.h"
#include "kernels/activations.h"
#include "test_support.h"

static void test_adversarial_product(void) {
    int misses = ball_adversarial_misses();
    CHECK_MSG(misses == 0, "%d of %d adversarial balls miss the exact result 1", misses, ADVERSARIAL_ROWS);
}

/* Every grid point of the ball (mid, rad) maps inside the ball's image. */
static void check_image(activation_kind kind, float mid, float rad) {
    double m = mid;
    float r = rad;
    ball_activation(kind, &m, &r, 1);
    double lo, hi;
    ball_bounds(m, r, &lo, &hi);
    int outside = 0;
    for (int i = 0; i <= 2000; i++) {
        float x = (float)(mid - rad + 2.0 * rad * i / 2000.0);
        if (x < mid - rad || x > mid + rad) continue;
        float y = x;
        activation_apply_reference(kind, &y, 1);
        /* the reference rounds to float: allow its half ulp */
        double slack = 0.5 * (double)(nextafterf(fabsf(y), INFINITY) - fabsf(y));
        outside += !((double)y >= lo - slack && (double)y <= hi + slack);
    }
    CHECK_MSG(outside == 0, "activation %d, ball %g +- %g: %d points outside [%.9g, %.9g]", (int)kind, mid, rad,
              outside, lo, hi);
    /* and the image is tight where the function is flat or smooth */
    CHECK_MSG(hi - lo < 4.0 * rad + 1e-6, "activation %d, ball %g +- %g: image [%g, %g] too wide", (int)kind, mid,
              rad, lo, hi);
}

static void test_activations(void) {
    const activation_kind kinds[] = {ACTIVATION_GELU_TANH, ACTIVATION_GELU_ERF, ACTIVATION_SILU, ACTIVATION_RELU};
    const float balls[][2] = {{-0.7518f, 0.01f}, {-0.76f, 1e-6f}, {-1.2785f, 0.05f}, {-3.0f, 0.5f}, {0.0f, 0.25f},
                              {0.3f, 1e-4f},     {2.5f, 1.0f},    {-12.0f, 2.0f},    {40.0f, 0.5f}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t b = 0; b < sizeof balls / sizeof balls[0]; b++) check_image(kinds[k], balls[b][0], balls[b][1]);
    /* the minimum itself: a ball around GELU's minimiser reaches down to
     * its value, about -0.170040 (tanh form) */
    double m = -0.75;
    float r = 0.05f;
    ball_activation(ACTIVATION_GELU_TANH, &m, &r, 1);
    CHECK_MSG(m - r <= -0.17004f && m - r > -0.1701f, "GELU's minimum: lower end %.7g", m - r);
}

int main(void) {
    test_adversarial_product();
    test_activations();
    return test_finish("test_ball_kernels");
}
