// The CookePairForce kernel for OpenMM's CUDA and OpenCL platforms: one source for both, built on
// the platforms' common ComputeContext. The pair term is added to the platform's own nonbonded
// kernel (its tiles, neighbour list and atom reordering), written out by hand instead of compiled
// from an expression: a per-type-pair table (b^2, r_c, fixed range, index of the depth among the
// global parameters) read once per pair, the WCA core and the cos^2 well each computed only where
// they act. Depths and w_c are read from the Context's global parameters on the device, so
// steering them costs no upload. Compile with -DCOOKE_CUDA for CUDA, else it is built for OpenCL.
#include "cooke_pair.h"
#include "openmm/KernelFactory.h"
#include "openmm/OpenMMException.h"
#include "openmm/common/ComputeArray.h"
#include "openmm/common/ComputeContext.h"
#include "openmm/common/ComputeForceInfo.h"
#include "openmm/common/ComputeParameterInfo.h"
#include "openmm/common/ComputeVectorTypes.h"
#include "openmm/common/ContextSelector.h"
#include "openmm/common/NonbondedUtilities.h"
#ifdef COOKE_CUDA
#include "openmm/cuda/CudaContext.h"
#include "openmm/cuda/CudaPlatform.h"
#define COOKE_PLATFORM "CUDA"
typedef OpenMM::CudaPlatform GpuPlatform;
#else
#include "openmm/opencl/OpenCLContext.h"
#include "openmm/opencl/OpenCLPlatform.h"
#define COOKE_PLATFORM "OpenCL"
typedef OpenMM::OpenCLPlatform GpuPlatform;
#endif
#include <map>
#include <string>
#include <vector>

namespace exomembrane {

// Per pair within the cutoff: cookeCode = type | replica << 8; cookeTable[type1 * COOKE_TYPES +
// type2] = (b^2, r_c, fixed range or 0 for w_c, index of eps_AB in cookeGlobals or -1).
// dEdR is -(dU/dr)/r, as the platform's kernel expects.
static const char* INTERACTION = R"(
if (!isExcluded && r2 < CUTOFF_SQUARED COOKE_SAME_REPLICA) {
    const float4 cookeP = cookeTable[(cookeCode1 & 255)*COOKE_TYPES + (cookeCode2 & 255)];
    const real cookeEps = (cookeP.w >= 0 ? cookeGlobals[(int) cookeP.w] : (real) 0);
    if (r < cookeP.y) {
        const real cookeX2 = cookeP.x*invR*invR;
        const real cookeX6 = cookeX2*cookeX2*cookeX2;
        const real cookeG = 2*cookeX6 - 1;
        tempEnergy += COOKE_EPSILON*cookeG*cookeG - cookeEps;
        dEdR += 24*COOKE_EPSILON*cookeG*cookeX6*invR*invR;
    }
    else if (cookeEps != 0) {
        const real cookeW = (cookeP.z > 0 ? (real) cookeP.z : cookeGlobals[COOKE_WC]);
        if (r < cookeP.y + cookeW) {
            const real cookeK = ((real) 1.5707963267948966)/cookeW;
            const real cookeTh = cookeK*(r - cookeP.y);
            const real cookeC = cos(cookeTh), cookeS = sin(cookeTh);
            tempEnergy -= cookeEps*cookeC*cookeC;
            dEdR -= 2*cookeEps*cookeK*cookeC*cookeS*invR;
        }
    }
}
)";

// Beads may be swapped by the platform's reordering only within a type and replica; excluded pairs
// keep their partners.
class CookeForceInfo : public ComputeForceInfo {
public:
    explicit CookeForceInfo(const CookePairForce& force) : force(force) {}
    bool areParticlesIdentical(int a, int b) override {
        return force.getTypes()[a] == force.getTypes()[b] && force.getReplicas()[a] == force.getReplicas()[b];
    }
    int getNumParticleGroups() override { return (int) force.getExclusions().size(); }
    void getParticlesInGroup(int index, std::vector<int>& particles) override {
        const auto& e = force.getExclusions()[index];
        particles = {e.first, e.second};
    }
    bool areGroupsIdentical(int, int) override { return true; }
private:
    const CookePairForce& force;
};

class CommonCalcCookePairKernel : public CalcCookePairKernel {
public:
    CommonCalcCookePairKernel(const std::string& name, const Platform& platform, ComputeContext& cc)
        : CalcCookePairKernel(name, platform), cc(cc) {}

    void initialize(const System& system, const CookePairForce& force) override {
        ContextSelector selector(cc);
        const int n = force.getNumTypes(), numAtoms = system.getNumParticles();
        if (n > 256)
            throw OpenMMException("CookePairForce: at most 256 bead types on " COOKE_PLATFORM);
        if ((int) force.getTypes().size() != numAtoms)
            throw OpenMMException("CookePairForce: one type per particle is needed");
        const std::vector<int>& replicas = force.getReplicas();
        bool replicated = false;
        std::vector<int> codes(cc.getPaddedNumAtoms(), 0);
        for (int i = 0; i < numAtoms; i++) {
            codes[i] = force.getTypes()[i] | (replicas[i] << 8);
            replicated |= replicas[i] != replicas[0];
        }
        code.initialize<int>(cc, codes.size(), "cookeCode");
        code.upload(codes);
        std::vector<int> globalIndex;
        int wc = -1;
        for (const auto& p : force.getGlobalParameters()) {
            globalIndex.push_back(cc.registerGlobalParam(p.first));
            if (p.first == "w_c")
                wc = globalIndex.back();
        }
        if (wc < 0)
            throw OpenMMException("CookePairForce: the global parameter w_c is needed");
        std::vector<mm_float4> rows(n * n, mm_float4(1.0f, 1.122462048309373f, 0.0f, -1.0f));
        for (const auto& p : force.getPairs()) {
            const float rc = (float) (1.122462048309373 * p.size);
            const mm_float4 row((float) (p.size * p.size), rc, p.range > 0 ? (float) p.range : 0.0f,
                                p.epsParameter < 0 ? -1.0f : (float) globalIndex.at(p.epsParameter));
            rows[p.a * n + p.b] = row;
            rows[p.b * n + p.a] = row;
        }
        table.initialize<mm_float4>(cc, rows.size(), "cookeTable");
        table.upload(rows);
        std::vector<std::vector<int>> exclusions(numAtoms);
        for (int i = 0; i < numAtoms; i++)
            exclusions[i].push_back(i);
        for (const auto& e : force.getExclusions()) {
            exclusions[e.first].push_back(e.second);
            exclusions[e.second].push_back(e.first);
        }
        std::map<std::string, std::string> replacements;
        replacements["COOKE_SAME_REPLICA"] = replicated ? "&& (cookeCode1 >> 8) == (cookeCode2 >> 8)" : "";
        replacements["COOKE_TYPES"] = cc.intToString(n);
        replacements["COOKE_EPSILON"] = "((real) " + cc.doubleToString(force.getEpsilon()) + ")";
        replacements["COOKE_WC"] = cc.intToString(wc);
        NonbondedUtilities& nb = cc.getNonbondedUtilities();
        nb.addInteraction(true, true, true, force.getCutoff(), exclusions, cc.replaceStrings(INTERACTION, replacements),
                          force.getForceGroup(), true);
        nb.addParameter(ComputeParameterInfo(code, "cookeCode", "int", 1));
        nb.addArgument(ComputeParameterInfo(table, "cookeTable", "float", 4));
        nb.addArgument(ComputeParameterInfo(cc.getGlobalParamValues(), "cookeGlobals", "real", 1));
        cc.addForce(new CookeForceInfo(force));
    }

    // The platform's nonbonded kernel computes the pair term; global parameters reach the device
    // through the Context.
    double execute(ContextImpl&, bool, bool) override { return 0.0; }

private:
    ComputeContext& cc;
    ComputeArray code, table;
};

class CookeGpuKernelFactory : public KernelFactory {
public:
    KernelImpl* createKernelImpl(std::string name, const Platform& platform, ContextImpl& context) const override {
        if (name != CalcCookePairKernel::Name())
            throw OpenMMException("exomembrane plugin: unknown kernel " + name);
        auto& data = *static_cast<GpuPlatform::PlatformData*>(context.getPlatformData());
        if (data.contexts.size() != 1)
            throw OpenMMException("CookePairForce: one device per Context on " COOKE_PLATFORM);
        return new CommonCalcCookePairKernel(name, platform, *data.contexts[0]);
    }
};

}  // namespace exomembrane

extern "C" __attribute__((visibility("default"))) void registerKernelFactories() {
    OpenMM::Platform::getPlatformByName(COOKE_PLATFORM).registerKernelFactory(exomembrane::CalcCookePairKernel::Name(),
                                                                      new exomembrane::CookeGpuKernelFactory());
}
