// Runs lseq's CUDA kernels on the host emulator (emulate.h) against plain double-precision
// references. Exit status 0 when every check passes; one line per check.
//   g++ -std=c++20 -O1 -pthread -DLSEQ_EMULATE -I src/test/cuda -I src/main/cuda \
//       src/test/cuda/kernels_test.cpp -o target/kernels_test && target/kernels_test
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "lru_scan.cu"
#include "model_ops.cu"

static std::mt19937_64 rng(42);
static int failures = 0;

static float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }

static std::vector<float> randoms(size_t n, float scale = 1.f) {
    std::vector<float> v(n);
    for (auto& x : v) x = uniform(-scale, scale);
    return v;
}

static void check(const std::string& name, double worst, double limit) {
    bool ok = worst <= limit;
    if (!ok) failures++;
    std::printf("%s %-40s worst %.3g (limit %.1g)\n", ok ? "ok  " : "FAIL", name.c_str(), worst, limit);
}

static double rel(double a, double b) { return std::fabs(a - b) / (1e-6 + std::fabs(b)); }

template <int L>
static void scan_case(const char* name, void (*kernel)(LSEQ_SCAN_PARAMS), std::vector<int> lens, int n, int concurrent) {
    constexpr int TILE = G * L;
    int keys = (int) lens.size();
    std::vector<int> rowStart(keys + 1), tileStart(keys + 1);
    for (int k = 0; k < keys; k++) {
        rowStart[k + 1] = rowStart[k] + lens[k];
        tileStart[k + 1] = tileStart[k] + (lens[k] + TILE - 1) / TILE;
    }
    int rows = rowStart[keys];
    int channelTiles = (n + CH - 1) / CH;
    int tiles = tileStart[keys];
    std::vector<double2> lambda(n), powers((size_t) (G + 1) * n);
    for (int i = 0; i < n; i++) {
        double mod = i == 0 ? 0.9999 : uniform(0.5f, 0.999f);
        double phase = uniform(0.f, 3.f);
        lambda[i] = {mod * std::cos(phase), mod * std::sin(phase)};
        for (int g = 0; g <= G; g++) {
            double m = std::pow(mod, (double) g * L);
            powers[(size_t) g * n + i] = {m * std::cos(phase * g * L), m * std::sin(phase * g * L)};
        }
    }
    std::vector<float2> u(rows * (size_t) n), h0((size_t) keys * n);
    for (auto& x : u) x = {uniform(-1, 1), uniform(-1, 1)};
    for (auto& x : h0) x = {uniform(-3, 3), uniform(-3, 3)};
    // reference
    std::vector<double2> want(u.size());
    for (int k = 0; k < keys; k++) {
        for (int i = 0; i < n; i++) {
            double2 h = {h0[(size_t) k * n + i].x, h0[(size_t) k * n + i].y};
            for (int r = rowStart[k]; r < rowStart[k + 1]; r++) {
                float2 x = u[(size_t) r * n + i];
                h = {lambda[i].x * h.x - lambda[i].y * h.y + x.x, lambda[i].x * h.y + lambda[i].y * h.x + x.y};
                want[(size_t) r * n + i] = h;
            }
        }
    }
    int counter = 0;
    std::vector<int> flags((size_t) tiles * channelTiles);
    std::vector<double2> agg((size_t) tiles * channelTiles * CH), incl(agg.size());
    emu::launch(dim3(tiles * channelTiles), dim3(CH, G), concurrent, kernel, u.data(), (const float2*) h0.data(),
            (const double2*) lambda.data(), (const double2*) powers.data(), (const int*) rowStart.data(),
            (const int*) tileStart.data(), keys, n, channelTiles, &counter, flags.data(), agg.data(), incl.data());
    double worst = 0;
    for (size_t i = 0; i < u.size(); i++) {
        double scale = 1e-3 + std::hypot(want[i].x, want[i].y);
        worst = std::max(worst, std::hypot(u[i].x - want[i].x, u[i].y - want[i].y) / scale);
    }
    check(std::string("scan ") + name + " rows " + std::to_string(rows), worst, 1e-5);
}

static void gemm_case(int rows, int in, int out, bool bias) {
    auto a = randoms((size_t) rows * in), w = randoms((size_t) out * in), b = randoms(out);
    std::vector<float> c((size_t) rows * out, NAN);
    emu::launch(dim3((rows + 63) / 64, (out + 63) / 64), dim3(256), 4, gemm_nt, (const float*) a.data(),
            (const float*) w.data(), (const float*) (bias ? b.data() : nullptr), c.data(), rows, in, out);
    double worst = 0;
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < out; o++) {
            // error relative to the sum of the terms' magnitudes: a float sum's error bound
            double s = bias ? b[o] : 0, mag = bias ? std::fabs(b[o]) : 0;
            for (int i = 0; i < in; i++) {
                double t = (double) a[(size_t) r * in + i] * w[(size_t) o * in + i];
                s += t;
                mag += std::fabs(t);
            }
            worst = std::max(worst, std::fabs(c[(size_t) r * out + o] - s) / mag);
        }
    check("gemm " + std::to_string(rows) + "x" + std::to_string(in) + "x" + std::to_string(out) + (bias ? " bias" : ""),
            worst, 1e-5);
}

static int row_blocks(int rows) { return (rows + LSEQ_ROW_WARPS - 1) / LSEQ_ROW_WARPS; }

static void norm_case(bool rms, int h) {
    int rows = 19;
    auto x = randoms((size_t) rows * h, 3), w = randoms(h), b = randoms(h);
    for (auto& v : x) v += 2;
    std::vector<float> y(x.size());
    emu::launch(dim3(row_blocks(rows)), dim3(LSEQ_ROW_WARPS * 32), 2, norm_rows, (const float*) x.data(),
            (const float*) w.data(), (const float*) (rms ? nullptr : b.data()), y.data(), rows, h, 1e-5f, rms ? 1 : 0);
    double worst = 0;
    for (int r = 0; r < rows; r++) {
        double mean = 0, sq = 0;
        for (int i = 0; i < h; i++) mean += x[r * h + i];
        mean = rms ? 0 : mean / h;
        for (int i = 0; i < h; i++) sq += (x[r * h + i] - mean) * (x[r * h + i] - mean);
        double inv = 1 / std::sqrt(sq / h + 1e-5);
        for (int i = 0; i < h; i++) {
            double want = (x[r * h + i] - mean) * inv * w[i] + (rms ? 0 : b[i]);
            worst = std::max(worst, std::fabs(y[r * h + i] - want));
        }
    }
    check(std::string(rms ? "rms" : "layer") + " norm h=" + std::to_string(h), worst, 2e-6);
}

static void heads_case(int v) {
    int rows = 21;
    auto logits = randoms((size_t) rows * v, 4);
    std::vector<int> tokens(rows);
    for (auto& t : tokens) t = (int) (rng() % v);
    std::vector<float> out(rows);
    emu::launch(dim3(row_blocks(rows)), dim3(LSEQ_ROW_WARPS * 32), 2, surprisal_rows, (const float*) logits.data(),
            (const int*) tokens.data(), out.data(), rows, v);
    double worstS = 0, worstP = 0;
    std::vector<double> probs(logits.size());
    for (int r = 0; r < rows; r++) {
        double mx = -1e300, s = 0;
        for (int i = 0; i < v; i++) mx = std::max(mx, (double) logits[r * v + i]);
        for (int i = 0; i < v; i++) s += std::exp(logits[r * v + i] - mx);
        worstS = std::max(worstS, rel(out[r], mx + std::log(s) - logits[r * v + tokens[r]]));
        for (int i = 0; i < v; i++) probs[r * v + i] = std::exp(logits[r * v + i] - mx) / s;
    }
    check("surprisal v=" + std::to_string(v), worstS, 1e-6);
    emu::launch(dim3(row_blocks(rows)), dim3(LSEQ_ROW_WARPS * 32), 2, softmax_rows, logits.data(), rows, v);
    for (size_t i = 0; i < probs.size(); i++) worstP = std::max(worstP, std::fabs(logits[i] - probs[i]));
    check("softmax v=" + std::to_string(v), worstP, 1e-7);
}

static void mse_case(int f) {
    int rows = 9;
    auto p = randoms((size_t) rows * f), x = randoms((size_t) rows * f);
    std::vector<float> out(rows);
    emu::launch(dim3(row_blocks(rows)), dim3(LSEQ_ROW_WARPS * 32), 1, mse_rows, (const float*) p.data(),
            (const float*) x.data(), out.data(), rows, f);
    double worst = 0;
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int i = 0; i < f; i++) s += (p[r * f + i] - (double) x[r * f + i]) * (p[r * f + i] - (double) x[r * f + i]);
        worst = std::max(worst, rel(out[r], s / f));
    }
    check("mse f=" + std::to_string(f), worst, 1e-6);
}

static void rows_case() {
    int h = 5;
    std::vector<int> rowStart = {0, 3, 4, 9};
    int keys = 3, rows = 9;
    auto y = randoms((size_t) rows * h), prev = randoms((size_t) keys * h);
    std::vector<float> out(y.size());
    emu::launch(dim3(2), dim3(32), 1, shift_rows, (const float*) y.data(), (const float*) prev.data(),
            (const int*) rowStart.data(), keys, out.data(), rows, h);
    double worst = 0;
    for (int k = 0; k < keys; k++)
        for (int r = rowStart[k]; r < rowStart[k + 1]; r++)
            for (int c = 0; c < h; c++) {
                float want = r == rowStart[k] ? prev[k * h + c] : y[(r - 1) * h + c];
                worst = std::max(worst, (double) std::fabs(out[r * h + c] - want));
            }
    check("shift_rows", worst, 0);
    std::vector<int> last = {2, 3, 8};
    std::vector<float> g((size_t) keys * h);
    emu::launch(dim3(1), dim3(64), 1, gather_rows, (const float*) y.data(), (const int*) last.data(), g.data(), keys, h);
    worst = 0;
    for (int k = 0; k < keys; k++)
        for (int c = 0; c < h; c++) worst = std::max(worst, (double) std::fabs(g[k * h + c] - y[last[k] * h + c]));
    check("gather_rows", worst, 0);
    std::vector<int> tokens = {3, 0, 7, 3};
    auto table = randoms(8 * h);
    std::vector<float> e(tokens.size() * h);
    emu::launch(dim3(1), dim3(32), 1, embed_rows, (const int*) tokens.data(), (const float*) table.data(), e.data(),
            (int) tokens.size(), h);
    worst = 0;
    for (size_t r = 0; r < tokens.size(); r++)
        for (int c = 0; c < h; c++) worst = std::max(worst, (double) std::fabs(e[r * h + c] - table[tokens[r] * h + c]));
    check("embed_rows", worst, 0);
}

static void elementwise_case() {
    size_t n = 1000;
    auto x = randoms(n, 4), p1 = randoms(n), p2 = randoms(n, 5), d = randoms(10);
    auto g = x, t = x, xg = x, xs = x;
    emu::launch(dim3(2), dim3(128), 2, gelu_inplace, g.data(), (long long) n, 0);
    emu::launch(dim3(2), dim3(128), 2, gelu_inplace, t.data(), (long long) n, 1);
    emu::launch(dim3(2), dim3(128), 2, glu_add, xg.data(), (const float*) p1.data(), (const float*) p2.data(), (long long) n);
    emu::launch(dim3(2), dim3(128), 2, skip_add, xs.data(), (const float*) p1.data(), (const float*) d.data(), 100, 10);
    double we = 0, wt = 0, wg = 0, ws = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        we = std::max(we, std::fabs(g[i] - 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))));
        wt = std::max(wt, std::fabs(t[i] - 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)))));
        wg = std::max(wg, std::fabs(xg[i] - (v + p1[i] / (1 + std::exp(-(double) p2[i])))));
        ws = std::max(ws, std::fabs(xs[i] - (v + d[i % 10] * p1[i])));
    }
    check("gelu erf", we, 1e-6);
    check("gelu tanh", wt, 1e-6);
    check("glu_add", wg, 1e-6);
    check("skip_add", ws, 1e-6);
}

int main() {
    // Ragged keys: shorter than a tile, exactly one, one past, many tiles; 40 channels = a full
    // and a partial channel tile. Four blocks at a time, so look-backs meet running predecessors.
    std::vector<int> lens = {1, 64, 65, 7, 300, 1000, 129};
    long before = emu::aggregates_used;
    scan_case<8>("l8", lru_scan_l8, lens, 40, 4);
    scan_case<16>("l16", lru_scan_l16, lens, 40, 4);
    scan_case<32>("l32", lru_scan_l32, {5000, 3}, 33, 6);
    scan_case<8>("l8_occ3", lru_scan_l8_occ3, lens, 40, 4);
    scan_case<8>("l8_occ4", lru_scan_l8_occ4, lens, 40, 4);
    scan_case<8>("l8 one long key", lru_scan_l8, {10000}, 32, 8);
    // The look-back must have met predecessors that had only published their aggregate.
    check("scan look-backs through aggregates: " + std::to_string(emu::aggregates_used - before), emu::aggregates_used > before ? 0 : 1, 0);
    gemm_case(130, 70, 67, true);
    gemm_case(64, 16, 64, false);
    gemm_case(3, 200, 129, true);
    norm_case(false, 64);
    norm_case(true, 70);
    norm_case(false, 7);
    heads_case(100);
    heads_case(5);
    mse_case(40);
    rows_case();
    elementwise_case();
    std::printf("%s\n", failures == 0 ? "all kernel checks passed" : "KERNEL CHECKS FAILED");
    return failures == 0 ? 0 : 1;
}
