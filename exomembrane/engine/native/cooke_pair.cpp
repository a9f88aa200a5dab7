// The CookePairForce plugin (cooke_pair.h): its ForceImpl, serialization proxy and the CPU kernel,
// which runs on the CPU platform's thread pool with its own neighbour list.
#include "cooke_pair.h"
#include "openmm/KernelFactory.h"
#include "openmm/OpenMMException.h"
#include "openmm/cpu/CpuPlatform.h"
#include "openmm/internal/ForceImpl.h"
#include "openmm/internal/ThreadPool.h"
#include "openmm/serialization/SerializationNode.h"
#include "openmm/serialization/SerializationProxy.h"
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

using namespace OpenMM;

namespace exomembrane {

class CookePairForceImpl : public ForceImpl {
public:
    explicit CookePairForceImpl(const CookePairForce& owner) : owner(owner) {}
    void initialize(ContextImpl& context) override {
        kernel = context.getPlatform().createKernel(CalcCookePairKernel::Name(), context);
        kernel.getAs<CalcCookePairKernel>().initialize(context.getSystem(), owner);
    }
    const CookePairForce& getOwner() const override { return owner; }
    void updateContextState(ContextImpl&, bool&) override {}
    double calcForcesAndEnergy(ContextImpl& context, bool includeForces, bool includeEnergy, int groups) override {
        if ((groups & (1 << owner.getForceGroup())) == 0)
            return 0.0;
        return kernel.getAs<CalcCookePairKernel>().execute(context, includeForces, includeEnergy);
    }
    std::map<std::string, double> getDefaultParameters() override {
        std::map<std::string, double> out;
        for (const auto& p : owner.getGlobalParameters())
            out[p.first] = p.second;
        return out;
    }
    std::vector<std::string> getKernelNames() override { return {CalcCookePairKernel::Name()}; }
private:
    const CookePairForce& owner;
    Kernel kernel;
};

ForceImpl* CookePairForce::createImpl() const { return new CookePairForceImpl(*this); }

class CpuCalcCookePairKernel : public CalcCookePairKernel {
public:
    static constexpr int LANES = 16;  // neighbours evaluated together (SIMD lanes)
    static constexpr float SKIN = 0.3f;  // sigma beyond the cutoff kept in the neighbour list

    CpuCalcCookePairKernel(const std::string& name, const Platform& platform, CpuPlatform::PlatformData& data)
        : CalcCookePairKernel(name, platform), data(data) {}

    void initialize(const System& system, const CookePairForce& force) override {
        n = force.getNumTypes();
        epsilon = (float) force.getEpsilon();
        cutoff = (float) force.getCutoff();
        type = force.getTypes();
        replica = force.getReplicas();
        if ((int) type.size() != system.getNumParticles())
            throw OpenMMException("CookePairForce: one type per particle is needed");
        size.assign(n * n, 1.0f);
        fixedRange.assign(n * n, 0.0f);
        epsIndex.assign(n * n, -1);
        for (const auto& p : force.getPairs())
            for (int k : {p.a * n + p.b, p.b * n + p.a}) {
                size[k] = (float) p.size;
                epsIndex[k] = p.epsParameter;
                fixedRange[k] = (float) p.range;
            }
        for (const auto& p : force.getGlobalParameters())
            names.push_back(p.first);
        excluded.assign(type.size(), std::vector<int>());
        for (const auto& e : force.getExclusions()) {
            excluded[e.first].push_back(e.second);
            excluded[e.second].push_back(e.first);
        }
        data.isPeriodic = true;  // the platform then hands us the positions wrapped into the box (posq)
        for (auto* table : {&param[0], &param[1], &param[2], &param[3], &param[4], &param[5]})
            table->assign(n * n, 0.0f);
    }

    double execute(ContextImpl& context, bool includeForces, bool includeEnergy) override {
        std::vector<float> value(names.size());
        float wc = 1.0f;
        for (size_t i = 0; i < names.size(); i++) {
            value[i] = (float) context.getParameter(names[i]);
            if (names[i] == "w_c")
                wc = value[i];
        }
        for (int k = 0; k < n * n; k++) {  // per pair of types: b^2, r_c^2, r_c, (r_c + w)^2, 1/w, eps_AB
            const float w = fixedRange[k] > 0 ? fixedRange[k] : wc;
            const float rc = 1.122462048309373f * size[k];
            param[0][k] = size[k] * size[k];
            param[1][k] = rc * rc;
            param[2][k] = rc;
            param[3][k] = (rc + w) * (rc + w);
            param[4][k] = 1.0f / w;
            param[5][k] = epsIndex[k] < 0 ? 0.0f : value[epsIndex[k]];
        }
        Vec3 a, b, c;
        context.getPeriodicBoxVectors(a, b, c);
        const float box[3] = {(float) a[0], (float) b[1], (float) c[2]};
        const float inv[3] = {1.0f / box[0], 1.0f / box[1], 1.0f / box[2]};
        const float* posq = &data.posq[0];
        ThreadPool& threads = data.threads;
        const int numThreads = threads.getNumThreads(), numAtoms = (int) type.size();
        if (neighbors.size() != (size_t) numThreads) {
            neighbors.assign(numThreads, std::vector<int>());
            lastPositions.clear();
        }
        begin.resize(numAtoms);
        end.resize(numAtoms);
        const bool rebuild = needsRebuild(posq, box, inv);
        if (rebuild)
            binAtoms(posq, box);
        std::vector<double> energy(numThreads, 0.0);
        threads.execute([&](ThreadPool&, int thread) {
            const int first = thread * numAtoms / numThreads, last = (thread + 1) * numAtoms / numThreads;
            if (rebuild)
                buildNeighbors(thread, first, last, posq, box, inv);
            energy[thread] = computeAtoms(thread, first, last, posq, box, inv, &data.threadForce[thread][0]);
        });
        threads.waitForThreads();
        if (rebuild) {
            lastPositions.assign(posq, posq + 4 * numAtoms);
            for (int m = 0; m < 3; m++)
                lastBox[m] = box[m];
        }
        double total = 0.0;
        for (double e : energy)
            total += e;
        return includeEnergy ? total : 0.0;
    }

private:
    // A bead moved more than half the skin since the list was built, or the box changed.
    bool needsRebuild(const float* posq, const float* box, const float* inv) const {
        if (lastPositions.empty() || box[0] != lastBox[0] || box[1] != lastBox[1] || box[2] != lastBox[2])
            return true;
        const float limit2 = 0.25f * SKIN * SKIN;
        constexpr float MAGIC = 12582912.0f;
        float worst = 0.0f;
        for (size_t i = 0; i < type.size(); i++) {
            float d2 = 0.0f;
            for (int m = 0; m < 3; m++) {
                float d = posq[4 * i + m] - lastPositions[4 * i + m];
                d -= box[m] * ((d * inv[m] + MAGIC) - MAGIC);
                d2 += d * d;
            }
            worst = std::max(worst, d2);
        }
        return worst > limit2;
    }

    // Cells of at least the list radius along each axis: atoms sorted by cell (their positions and
    // replicas copied in that order), and for each cell the half stencil: the distinct cells
    // around it with an index not below its own, as runs of consecutive indices, whose atoms lie
    // one after another.
    void binAtoms(const float* posq, const float* box) {
        const float reach = cutoff + SKIN;
        for (int m = 0; m < 3; m++)
            cells[m] = std::max(1, (int) (box[m] / reach));
        const int numCells = cells[0] * cells[1] * cells[2], numAtoms = (int) type.size();
        cellOf.resize(numAtoms);
        cellStart.assign(numCells + 1, 0);
        for (int i = 0; i < numAtoms; i++) {
            int index = 0;
            for (int m = 0; m < 3; m++) {
                int k = (int) (posq[4 * i + m] / box[m] * cells[m]);
                k = std::min(std::max(k, 0), cells[m] - 1);
                index = index * cells[m] + k;
            }
            cellOf[i] = index;
            cellStart[index + 1]++;
        }
        for (int k = 0; k < numCells; k++)
            cellStart[k + 1] += cellStart[k];
        cellAtoms.resize(numAtoms);
        slot.resize(numAtoms);
        for (int m = 0; m < 3; m++)
            sorted[m].resize(numAtoms);
        sortedReplica.resize(numAtoms);
        std::vector<int> fill(cellStart.begin(), cellStart.end() - 1);
        for (int i = 0; i < numAtoms; i++) {
            const int k = fill[cellOf[i]]++;
            cellAtoms[k] = i;
            slot[i] = k;
            sortedReplica[k] = replica[i];
            for (int m = 0; m < 3; m++)
                sorted[m][k] = posq[4 * i + m];
        }
        if ((int) runs.size() == numCells && runCells[0] == cells[0] && runCells[1] == cells[1])
            return;  // same grid as before
        for (int m = 0; m < 3; m++)
            runCells[m] = cells[m];
        runs.assign(numCells, std::vector<std::pair<int, int>>());
        std::vector<int> list;
        for (int x = 0; x < cells[0]; x++)
            for (int y = 0; y < cells[1]; y++)
                for (int z = 0; z < cells[2]; z++) {
                    const int own = (x * cells[1] + y) * cells[2] + z;
                    list.clear();
                    for (int dx = -1; dx <= 1; dx++)
                        for (int dy = -1; dy <= 1; dy++)
                            for (int dz = -1; dz <= 1; dz++) {
                                const int cell = (((x + dx + cells[0]) % cells[0]) * cells[1] + (y + dy + cells[1]) % cells[1])
                                                 * cells[2] + (z + dz + cells[2]) % cells[2];
                                if (cell >= own)  // each pair once: j after i in cell order (the stencil is symmetric)
                                    list.push_back(cell);
                            }
                    std::sort(list.begin(), list.end());
                    list.erase(std::unique(list.begin(), list.end()), list.end());
                    for (int cell : list)
                        if (!runs[own].empty() && runs[own].back().second == cell - 1)
                            runs[own].back().second = cell;
                        else
                            runs[own].emplace_back(cell, cell);
                }
    }

    // Half list of the atoms first..last-1 within cutoff + skin (j after i in cell order),
    // exclusions left out.
    void buildNeighbors(int thread, int first, int last, const float* posq, const float* box, const float* inv) {
        constexpr float MAGIC = 12582912.0f;
        std::vector<int>& list = neighbors[thread];  // used up to `used`; grown as needed
        int used = 0;
        const float reach2 = (cutoff + SKIN) * (cutoff + SKIN);
        std::vector<float> d2;
        for (int i = first; i < last; i++) {
            begin[i] = used;
            const float xi = posq[4 * i], yi = posq[4 * i + 1], zi = posq[4 * i + 2];
            const int own = cellOf[i], rep = replica[i];
            for (const auto& run : runs[own]) {  // the first run starts with the own cell: atoms after i
                const int from = run.first == own ? slot[i] + 1 : cellStart[run.first];
                const int count = cellStart[run.second + 1] - from;
                if (count <= 0)
                    continue;
                d2.resize(count);
                const float *x = &sorted[0][from], *y = &sorted[1][from], *z = &sorted[2][from];
                for (int k = 0; k < count; k++) {
                    float dx = x[k] - xi, dy = y[k] - yi, dz = z[k] - zi;
                    dx -= box[0] * ((dx * inv[0] + MAGIC) - MAGIC);
                    dy -= box[1] * ((dy * inv[1] + MAGIC) - MAGIC);
                    dz -= box[2] * ((dz * inv[2] + MAGIC) - MAGIC);
                    d2[k] = dx * dx + dy * dy + dz * dz;
                }
                if (list.size() < (size_t) (used + count))
                    list.resize(2 * (used + count));
                int* out = &list[used];
                const int *atoms = &cellAtoms[from], *reps = &sortedReplica[from];
                int kept = 0;
                for (int k = 0; k < count; k++) {  // branch-free compress
                    out[kept] = atoms[k];
                    kept += (d2[k] < reach2) & (reps[k] == rep);
                }
                used += kept;
            }
            if (!excluded[i].empty())
                used = begin[i] + (int) (std::remove_if(&list[begin[i]], &list[used], [&](int j) {
                    return std::find(excluded[i].begin(), excluded[i].end(), j) != excluded[i].end();
                }) - &list[begin[i]]);
            end[i] = used;
        }
    }

    // Forces on atoms first..last-1 and their neighbours, LANES neighbours at a time, written
    // branch-free so that the compiler vectorises them; returns the energy.
    double computeAtoms(int thread, int first, int last, const float* posq, const float* box, const float* inv,
                        float* f) const {
        constexpr float HALF_PI = 1.5707963267948966f, MAGIC = 12582912.0f;
        const float cutoff2 = cutoff * cutoff;
        const std::vector<int>& list = neighbors[thread];
        double total = 0.0;
        for (int i = first; i < last; i++) {
            const float xi = posq[4 * i], yi = posq[4 * i + 1], zi = posq[4 * i + 2];
            const int row = type[i] * n;
            float fix = 0, fiy = 0, fiz = 0, energy = 0;
            for (int chunk = begin[i]; chunk < end[i]; chunk += LANES) {
                const int count = std::min(LANES, end[i] - chunk);
                const int* js = &list[chunk];
                float dx[LANES], dy[LANES], dz[LANES], P[6][LANES], fx[LANES], fy[LANES], fz[LANES], u[LANES];
                for (int k = 0; k < LANES; k++) {
                    const int j = js[k < count ? k : 0];
                    const int t = row + type[j];
                    dx[k] = posq[4 * j] - xi;
                    dy[k] = posq[4 * j + 1] - yi;
                    dz[k] = posq[4 * j + 2] - zi;
                    for (int p = 0; p < 6; p++)
                        P[p][k] = param[p][t];
                }
#pragma GCC ivdep
                for (int k = 0; k < LANES; k++) {
                    float ddx = dx[k] - box[0] * ((dx[k] * inv[0] + MAGIC) - MAGIC);  // nearest image
                    float ddy = dy[k] - box[1] * ((dy[k] * inv[1] + MAGIC) - MAGIC);
                    float ddz = dz[k] - box[2] * ((dz[k] * inv[2] + MAGIC) - MAGIC);
                    const float r2 = ddx * ddx + ddy * ddy + ddz * ddz;
                    const float use = (k < count && r2 < cutoff2) ? 1.0f : 0.0f;
                    const float q2 = use != 0.0f ? r2 : 1.0f;
                    const float inv2 = 1.0f / q2;
                    const float x2 = P[0][k] * inv2;
                    const float x6 = x2 * x2 * x2;
                    const float g = 2.0f * x6 - 1.0f;
                    const float core = static_cast<float>(q2 < P[1][k]);
                    const float r = std::sqrt(q2);
                    // attraction -eps_AB cos^2(theta), theta = (pi/2) clamp((r - r_c)/w, 0, 1);
                    // Taylor series to x^11 / x^12: below 6e-8 on [0, pi/2]
                    const float th = HALF_PI * std::min(1.0f, std::max(0.0f, (r - P[2][k]) * P[4][k]));
                    const float th2 = th * th;
                    const float sn = th * (1 - th2 * (1 / 6.0f) * (1 - th2 * (1 / 20.0f) * (1 - th2 * (1 / 42.0f)
                                     * (1 - th2 * (1 / 72.0f) * (1 - th2 * (1 / 110.0f))))));
                    const float cs = 1 - th2 * 0.5f * (1 - th2 * (1 / 12.0f) * (1 - th2 * (1 / 30.0f)
                                     * (1 - th2 * (1 / 56.0f) * (1 - th2 * (1 / 90.0f) * (1 - th2 * (1 / 132.0f))))));
                    const float reach = static_cast<float>(q2 < P[3][k]) * P[5][k];
                    u[k] = use * (core * epsilon * g * g - reach * cs * cs);
                    // dU/dr / r; the force on i is +(dU/dr / r) d, d from i to j
                    const float scale = use * (-24.0f * core * epsilon * g * x6 * inv2
                                               + reach * (1.0f - core) * 2.0f * HALF_PI * cs * sn * P[4][k] * r * inv2);
                    fx[k] = scale * ddx;
                    fy[k] = scale * ddy;
                    fz[k] = scale * ddz;
                }
                for (int k = 0; k < count; k++) {
                    const int j = js[k];
                    fix += fx[k];
                    fiy += fy[k];
                    fiz += fz[k];
                    energy += u[k];
                    f[4 * j] -= fx[k];
                    f[4 * j + 1] -= fy[k];
                    f[4 * j + 2] -= fz[k];
                }
            }
            f[4 * i] += fix;
            f[4 * i + 1] += fiy;
            f[4 * i + 2] += fiz;
            total += energy;
        }
        return total;
    }

    CpuPlatform::PlatformData& data;
    int n = 0;
    float epsilon = 1.0f, cutoff = 0.0f;
    std::vector<int> type, replica, epsIndex;
    std::vector<float> size, fixedRange;
    std::vector<float> param[6];  // see execute()
    std::vector<std::string> names;
    std::vector<std::vector<int>> excluded;
    std::vector<std::vector<int>> neighbors;  // per thread: the half lists of its atoms, one after another
    std::vector<int> begin, end;  // atom i's neighbours: neighbors[its thread][begin[i] .. end[i])
    std::vector<int> cellOf, cellStart, cellAtoms, slot;  // cell of each atom; atoms by cell; atom's place there
    std::vector<float> sorted[3];  // positions in cellAtoms order
    std::vector<int> sortedReplica;  // replicas in cellAtoms order
    std::vector<std::vector<std::pair<int, int>>> runs;  // per cell: its half stencil as runs [first, last] of cells
    int runCells[3] = {0, 0, 0};  // the grid the runs were made for
    int cells[3] = {1, 1, 1};
    float lastBox[3] = {0, 0, 0};
    std::vector<float> lastPositions;
};

class CookeKernelFactory : public KernelFactory {
public:
    KernelImpl* createKernelImpl(std::string name, const Platform& platform, ContextImpl& context) const override {
        if (name != CalcCookePairKernel::Name())
            throw OpenMMException("exomembrane plugin: unknown kernel " + name);
        return new CpuCalcCookePairKernel(name, platform, CpuPlatform::getPlatformData(context));
    }
};

class CookePairForceProxy : public SerializationProxy {
    static std::vector<long> numbers(const std::string& text) {
        std::vector<long> out;
        const char* p = text.c_str();
        char* end;
        for (long v = std::strtol(p, &end, 10); end != p; v = std::strtol(p, &end, 10)) {
            out.push_back(v);
            p = end;
        }
        return out;
    }
public:
    CookePairForceProxy() : SerializationProxy("CookePairForce") {}
    void serialize(const void* object, SerializationNode& node) const override {
        const CookePairForce& force = *reinterpret_cast<const CookePairForce*>(object);
        node.setIntProperty("version", 1);
        node.setIntProperty("forceGroup", force.getForceGroup());
        node.setStringProperty("name", force.getName());
        node.setIntProperty("types", force.getNumTypes());
        node.setDoubleProperty("epsilon", force.getEpsilon());
        node.setDoubleProperty("cutoff", force.getCutoff());
        std::string text;
        for (int t : force.getTypes())
            text += std::to_string(t) + " ";
        node.setStringProperty("particles", text);
        text.clear();
        for (int r : force.getReplicas())
            text += std::to_string(r) + " ";
        node.setStringProperty("replicas", text);
        SerializationNode& pairs = node.createChildNode("Pairs");
        for (const auto& p : force.getPairs())
            pairs.createChildNode("Pair").setIntProperty("a", p.a).setIntProperty("b", p.b)
                .setDoubleProperty("size", p.size).setIntProperty("eps", p.epsParameter).setDoubleProperty("w", p.range);
        SerializationNode& parameters = node.createChildNode("GlobalParameters");
        for (const auto& p : force.getGlobalParameters())
            parameters.createChildNode("Parameter").setStringProperty("name", p.first).setDoubleProperty("default", p.second);
        text.clear();
        for (const auto& e : force.getExclusions())
            text += std::to_string(e.first) + " " + std::to_string(e.second) + " ";
        node.setStringProperty("exclusions", text);
    }
    void* deserialize(const SerializationNode& node) const override {
        if (node.getIntProperty("version") != 1)
            throw OpenMMException("CookePairForce: unsupported version");
        CookePairForce* force = new CookePairForce(node.getIntProperty("types"), node.getDoubleProperty("epsilon"),
                                                   node.getDoubleProperty("cutoff"));
        try {
            force->setForceGroup(node.getIntProperty("forceGroup", 0));
            force->setName(node.getStringProperty("name", "pair"));
            const std::vector<long> types = numbers(node.getStringProperty("particles"));
            const std::vector<long> replicas = numbers(node.getStringProperty("replicas", ""));
            if (!replicas.empty() && replicas.size() != types.size())
                throw OpenMMException("CookePairForce: one replica index per particle is needed");
            for (size_t i = 0; i < types.size(); i++)
                force->addParticle((int) types[i], replicas.empty() ? 0 : (int) replicas[i]);
            for (const SerializationNode& pair : node.getChildNode("Pairs").getChildren())
                force->addPair({pair.getIntProperty("a"), pair.getIntProperty("b"), pair.getDoubleProperty("size"),
                                pair.getIntProperty("eps"), pair.getDoubleProperty("w")});
            for (const SerializationNode& parameter : node.getChildNode("GlobalParameters").getChildren())
                force->addGlobalParameter(parameter.getStringProperty("name"), parameter.getDoubleProperty("default"));
            const std::vector<long> exclusions = numbers(node.getStringProperty("exclusions"));
            for (size_t k = 0; k + 1 < exclusions.size(); k += 2)
                force->addExclusion((int) exclusions[k], (int) exclusions[k + 1]);
        }
        catch (...) {
            delete force;
            throw;
        }
        return force;
    }
};

}  // namespace exomembrane

extern "C" __attribute__((visibility("default"))) void registerKernelFactories() {
    Platform& cpu = Platform::getPlatformByName("CPU");
    cpu.registerKernelFactory(exomembrane::CalcCookePairKernel::Name(), new exomembrane::CookeKernelFactory());
    SerializationProxy::registerProxy(typeid(exomembrane::CookePairForce), new exomembrane::CookePairForceProxy());
}
