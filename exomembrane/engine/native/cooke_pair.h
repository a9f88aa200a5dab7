// The Cooke-type pair force of exomembrane as an OpenMM plugin: the Force and its kernel interface,
// shared by the CPU kernel (cooke_pair.cpp) and the CUDA/OpenCL kernel (cooke_pair_gpu.cpp).
//
// Same potential as the CustomNonbondedForce that exomembrane.system builds (see its docstring):
// per pair of bead types a WCA size b, an attraction depth (a global parameter, or none) and a
// range (fixed, or the global parameter w_c):
//   U(r) = epsilon (2 (b/r)^6 - 1)^2                     r < r_c = 2^(1/6) b
//        - eps_AB                                         r < r_c
//        - eps_AB cos^2(pi (r - r_c) / (2 w_AB))          r_c <= r <= r_c + w_AB
// Pairs in the exclusion list, and beads of different replicas (copies of a system stacked in
// one Context), do not interact. The force is created from Python through XmlSerializer (type
// "CookePairForce"), so no wrapper code is needed.
#ifndef EXOMEMBRANE_COOKE_PAIR_H
#define EXOMEMBRANE_COOKE_PAIR_H
#include "openmm/Force.h"
#include "openmm/KernelImpl.h"
#include "openmm/Platform.h"
#include "openmm/System.h"
#include "openmm/internal/ContextImpl.h"
#include <string>
#include <utility>
#include <vector>

namespace exomembrane {

using namespace OpenMM;

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
    void addParticle(int type, int replica = 0) {
        types.push_back(type);
        replicas.push_back(replica);
    }
    const std::vector<int>& getTypes() const { return types; }
    const std::vector<int>& getReplicas() const { return replicas; }  // beads of different replicas never interact
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
    std::vector<int> types, replicas;
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

}  // namespace exomembrane

#endif
