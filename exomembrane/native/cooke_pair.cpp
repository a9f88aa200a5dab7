// The Cooke-type pair force of exomembrane as an OpenMM plugin with a CPU kernel.
//
// Same potential as the CustomNonbondedForce that exomembrane.system builds (see its docstring):
// per pair of bead types a WCA size b, an attraction depth (a global parameter, or none) and a
// range (fixed, or the global parameter w_c):
//   U(r) = epsilon (2 (b/r)^6 - 1)^2                     r < r_c = 2^(1/6) b
//        - eps_AB                                         r < r_c
//        - eps_AB cos^2(pi (r - r_c) / (2 w_AB))          r_c <= r <= r_c + w_AB
// Pairs in the exclusion list do not interact. The force is created from Python through
// XmlSerializer (type "CookePairForce"), so no wrapper code is needed; its kernel runs on the
// CPU platform's neighbour list and thread pool.
#include "openmm/Force.h"
#include "openmm/KernelFactory.h"
#include "openmm/KernelImpl.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"
#include "openmm/System.h"
#include "openmm/cpu/CpuNeighborList.h"
#include "openmm/cpu/CpuPlatform.h"
#include "openmm/internal/ContextImpl.h"
#include "openmm/internal/ForceImpl.h"
#include "openmm/internal/ThreadPool.h"
#include "openmm/serialization/SerializationNode.h"
#include "openmm/serialization/SerializationProxy.h"
#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace OpenMM;

namespace exomembrane {

class CookePairForce : public Force {
public:
    struct Pair {
        int a, b;           // bead types
        double size;        // WCA size b (sigma)
        int epsParameter;   // index of the global parameter giving the depth, -1: no attraction
        double range;       // attraction range (sigma); <= 0: the global parameter w_c
    };
    CookePairForce(int numTypes, double epsilon, double cutoff) : numTypes(numTypes), epsilon(epsilon), cutoff(cutoff) {}
    int getNumTypes() const { return numTypes; }
    double getEpsilon() const { return epsilon; }
    double getCutoff() const { return cutoff; }
    void addParticle(int type) { types.push_back(type); }
    const std::vector<int>& getTypes() const { return types; }
    void addPair(const Pair& pair) { pairs.push_back(pair); }
    const std::vector<Pair>& getPairs() const { return pairs; }
    void addGlobalParameter(const std::string& name, double value) { parameters.emplace_back(name, value); }
    const std::vector<std::pair<std::string, double>>& getGlobalParameters() const { return parameters; }
    void addExclusion(int i, int j) { exclusions.emplace_back(i, j); }
    const std::vector<std::pair<int, int>>& getExclusions() const { return exclusions; }
    bool usesPeriodicBoundaryConditions() const override { return true; }
protected:
    ForceImpl* createImpl() const override;
private:
    int numTypes;
    double epsilon, cutoff;
    std::vector<int> types;
    std::vector<Pair> pairs;
    std::vector<std::pair<std::string, double>> parameters;
    std::vector<std::pair<int, int>> exclusions;
};

class CalcCookePairKernel : public KernelImpl {
public:
    static std::string Name() { return "CalcCookePair"; }
    CalcCookePairKernel(const std::string& name, const Platform& platform) : KernelImpl(name, platform) {}
    virtual void initialize(const System& system, const CookePairForce& force) = 0;
    virtual double execute(ContextImpl& context, bool includeForces, bool includeEnergy) = 0;
};

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
    static constexpr int BLOCK = 8;  // atoms per neighbour-list block: the SIMD lanes of the kernel (measured:
                                     // 4, 8 and 16 within 10 %; 8 fastest)
    CpuCalcCookePairKernel(const std::string& name, const Platform& platform, CpuPlatform::PlatformData& data)
        : CalcCookePairKernel(name, platform), data(data) {}

    void initialize(const System& system, const CookePairForce& force) override {
        n = force.getNumTypes();
        epsilon = (float) force.getEpsilon();
        cutoff = (float) force.getCutoff();
        type = force.getTypes();
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
        exclusions.assign(type.size(), std::set<int>());
        for (const auto& e : force.getExclusions()) {
            exclusions[e.first].insert(e.second);
            exclusions[e.second].insert(e.first);
        }
        data.isPeriodic = true;  // the platform then wraps the positions it hands us (posq) into the box
        padding = 0.25f * cutoff;
        list = new CpuNeighborList(BLOCK);
        for (auto* table : {&eps, &size2, &core2, &coreRange, &reach2, &invRange})
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
        for (int k = 0; k < n * n; k++) {
            eps[k] = epsIndex[k] < 0 ? 0.0f : value[epsIndex[k]];
            const float w = fixedRange[k] > 0 ? fixedRange[k] : wc;
            const float rc = 1.122462048309373f * size[k];
            size2[k] = size[k] * size[k];
            core2[k] = rc * rc;
            coreRange[k] = rc;
            reach2[k] = (rc + w) * (rc + w);
            invRange[k] = 1.0f / w;
        }
        Vec3 a, b, c;
        context.getPeriodicBoxVectors(a, b, c);
        const float box[3] = {(float) a[0], (float) b[1], (float) c[2]};
        const float inv[3] = {1.0f / box[0], 1.0f / box[1], 1.0f / box[2]};
        const float* posq = &data.posq[0];
        updateNeighborList(context, posq, box, inv);
        ThreadPool& threads = data.threads;
        std::vector<double> energy(threads.getNumThreads(), 0.0);
        blockTable.resize(threads.getNumThreads());
        std::atomic<int> next(0);
        const bool fixedOrder = data.deterministicForces;  // same blocks per thread: bitwise repeatable sums
        const int numBlocks = list->getNumBlocks(), numThreads = threads.getNumThreads();
        threads.execute([&](ThreadPool&, int thread) {
            float* f = &data.threadForce[thread][0];
            double e = 0.0;
            for (int block = fixedOrder ? thread : next++; block < numBlocks;
                 block = fixedOrder ? block + numThreads : next++) {
                e += computeBlock<BLOCK>(*list, block, posq, box, inv, f, blockTable[thread]);
            }
            energy[thread] = e;
        });
        threads.waitForThreads();
        double total = 0.0;
        for (double e : energy)
            total += e;
        return includeEnergy ? total : 0.0;
    }

    ~CpuCalcCookePairKernel() { delete list; }

private:
    // Rebuild the neighbour list (pairs within cutoff + padding) once a bead has moved more than
    // half the padding since the last build, or the box changed.
    void updateNeighborList(ContextImpl& context, const float* posq, const float* box, const float* inv) {
        const int numAtoms = (int) type.size();
        bool rebuild = lastPositions.empty() || box[0] != lastBox[0] || box[1] != lastBox[1] || box[2] != lastBox[2];
        const float limit2 = 0.25f * padding * padding;
        for (int i = 0; i < numAtoms && !rebuild; i++) {
            float d2 = 0.0f;
            for (int m = 0; m < 3; m++) {
                float d = posq[4 * i + m] - lastPositions[3 * i + m];
                d -= box[m] * std::round(d * inv[m]);
                d2 += d * d;
            }
            rebuild = d2 > limit2;
        }
        if (!rebuild)
            return;
        Vec3 vectors[3];
        context.getPeriodicBoxVectors(vectors[0], vectors[1], vectors[2]);
        list->computeNeighborList(numAtoms, data.posq, exclusions, vectors, true, cutoff + padding, data.threads);
        lastPositions.resize(3 * numAtoms);
        for (int i = 0; i < numAtoms; i++)
            for (int m = 0; m < 3; m++)
                lastPositions[3 * i + m] = posq[4 * i + m];
        for (int m = 0; m < 3; m++)
            lastBox[m] = box[m];
    }

    // Interactions of the W atoms of one neighbour-list block with their neighbours; returns the
    // energy. The W lanes are written branch-free so that the compiler vectorises them, and the
    // pair parameters of the block's atoms against each bead type are laid out once per block.
    template <int W>
    double computeBlock(const CpuNeighborList& list, int block, const float* posq, const float* box, const float* inv,
                        float* f, std::vector<float>& table) const {
        constexpr float HALF_PI = 1.5707963267948966f, MAGIC = 12582912.0f;
        const int32_t* atoms = &list.getSortedAtoms()[W * block];
        float bx[W], by[W], bz[W], fbx[W] = {}, fby[W] = {}, fbz[W] = {}, energy[W] = {};
        for (int k = 0; k < W; k++) {
            bx[k] = posq[4 * atoms[k]];
            by[k] = posq[4 * atoms[k] + 1];
            bz[k] = posq[4 * atoms[k] + 2];
        }
        // table[(T*6 + p)*W + k]: parameter p of block atom k against bead type T
        table.resize(n * 6 * W);
        for (int T = 0; T < n; T++)
            for (int k = 0; k < W; k++) {
                const int t = T * n + type[atoms[k]];
                float* row = &table[T * 6 * W + k];
                row[0] = size2[t];
                row[W] = core2[t];
                row[2 * W] = coreRange[t];
                row[3 * W] = reach2[t];
                row[4 * W] = invRange[t];
                row[5 * W] = eps[t];
            }
        const float cutoff2 = cutoff * cutoff;
        CpuNeighborList::NeighborIterator neighbors = list.getNeighborIterator(block);
        while (neighbors.next()) {
            const int i = neighbors.getNeighbor();
            const auto excluded = neighbors.getExclusions();
            const float xi = posq[4 * i], yi = posq[4 * i + 1], zi = posq[4 * i + 2];
            const float* P = &table[type[i] * 6 * W];
            float dx[W], dy[W], dz[W], r2[W], use[W], fix[W], fiy[W], fiz[W];
            bool anyPair = false;
            for (int k = 0; k < W; k++) {
                dx[k] = bx[k] - xi;
                dy[k] = by[k] - yi;
                dz[k] = bz[k] - zi;
                dx[k] -= box[0] * ((dx[k] * inv[0] + MAGIC) - MAGIC);  // nearest image (round to nearest)
                dy[k] -= box[1] * ((dy[k] * inv[1] + MAGIC) - MAGIC);
                dz[k] -= box[2] * ((dz[k] * inv[2] + MAGIC) - MAGIC);
                r2[k] = dx[k] * dx[k] + dy[k] * dy[k] + dz[k] * dz[k];
                use[k] = (r2[k] < cutoff2 && !(excluded & (1 << k))) ? 1.0f : 0.0f;
                anyPair |= use[k] != 0.0f;
            }
            if (!anyPair)
                continue;
#pragma GCC ivdep
            for (int k = 0; k < W; k++) {
                const float q2 = use[k] != 0.0f ? r2[k] : 1.0f;
                const float inv2 = 1.0f / q2;
                const float x2 = P[k] * inv2;
                const float x6 = x2 * x2 * x2;
                const float g = 2.0f * x6 - 1.0f;
                const float core = static_cast<float>(q2 < P[W + k]);
                const float r = std::sqrt(q2);
                // attraction -eps_AB cos^2(theta), theta = (pi/2) clamp((r - r_c)/w, 0, 1)
                const float th = HALF_PI * std::min(1.0f, std::max(0.0f, (r - P[2 * W + k]) * P[4 * W + k]));
                const float th2 = th * th;
                // Taylor series to x^11 / x^12: below 6e-8 on [0, pi/2]
                const float sn = th * (1 - th2 * (1 / 6.0f) * (1 - th2 * (1 / 20.0f) * (1 - th2 * (1 / 42.0f)
                                 * (1 - th2 * (1 / 72.0f) * (1 - th2 * (1 / 110.0f))))));
                const float cs = 1 - th2 * 0.5f * (1 - th2 * (1 / 12.0f) * (1 - th2 * (1 / 30.0f) * (1 - th2 * (1 / 56.0f)
                                 * (1 - th2 * (1 / 90.0f) * (1 - th2 * (1 / 132.0f))))));
                const float reach = static_cast<float>(q2 < P[3 * W + k]) * P[5 * W + k];
                energy[k] += use[k] * (core * epsilon * g * g - reach * cs * cs);
                // dU/dr / r; the force on i is +(dU/dr / r) d, d from i to the block atom
                const float scale = use[k] * (-24.0f * core * epsilon * g * x6 * inv2
                                              + reach * (1.0f - core) * 2.0f * HALF_PI * cs * sn * P[4 * W + k] * r * inv2);
                fix[k] = scale * dx[k];
                fiy[k] = scale * dy[k];
                fiz[k] = scale * dz[k];
                fbx[k] -= fix[k];
                fby[k] -= fiy[k];
                fbz[k] -= fiz[k];
            }
            float sx = 0, sy = 0, sz = 0;
            for (int k = 0; k < W; k++) {
                sx += fix[k];
                sy += fiy[k];
                sz += fiz[k];
            }
            f[4 * i] += sx;
            f[4 * i + 1] += sy;
            f[4 * i + 2] += sz;
        }
        double total = 0.0;
        for (int k = 0; k < W; k++) {
            f[4 * atoms[k]] += fbx[k];
            f[4 * atoms[k] + 1] += fby[k];
            f[4 * atoms[k] + 2] += fbz[k];
            total += energy[k];
        }
        return total;
    }

    CpuPlatform::PlatformData& data;
    int n = 0;
    float epsilon = 1.0f, cutoff = 0.0f;
    std::vector<int> type, epsIndex;
    std::vector<float> size, fixedRange, eps, size2, core2, coreRange, reach2, invRange;
    std::vector<std::vector<float>> blockTable;  // per thread
    CpuNeighborList* list = nullptr;
    float padding = 0.0f, lastBox[3] = {0, 0, 0};
    std::vector<float> lastPositions;
    std::vector<std::string> names;
    std::vector<std::set<int>> exclusions;
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
            const std::string particles = node.getStringProperty("particles");
            const char* p = particles.c_str();
            char* end;
            for (long v = std::strtol(p, &end, 10); end != p; v = std::strtol(p, &end, 10)) {
                force->addParticle((int) v);
                p = end;
            }
            for (const SerializationNode& pair : node.getChildNode("Pairs").getChildren())
                force->addPair({pair.getIntProperty("a"), pair.getIntProperty("b"), pair.getDoubleProperty("size"),
                                pair.getIntProperty("eps"), pair.getDoubleProperty("w")});
            for (const SerializationNode& parameter : node.getChildNode("GlobalParameters").getChildren())
                force->addGlobalParameter(parameter.getStringProperty("name"), parameter.getDoubleProperty("default"));
            const std::string exclusions = node.getStringProperty("exclusions");
            p = exclusions.c_str();
            while (true) {
                long i = std::strtol(p, &end, 10);
                if (end == p)
                    break;
                p = end;
                long j = std::strtol(p, &end, 10);
                p = end;
                force->addExclusion((int) i, (int) j);
            }
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
