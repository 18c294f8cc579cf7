// The names of a concept's kinds (activations, losses): one list per concept, in the concept's
// .cpp, with every kind under its own name first and then the aliases (other names of a kind
// listed before). The concept's from_name and name() read it through these two lookups, and
// Python reads it through the bindings, so a name is written once.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace nncore {

template <class Kind>
struct Name {
  const char* name;
  Kind kind;
};

// The kind that `name` names; throws std::invalid_argument listing every name of the list if it
// names none ("unknown <concept> '<name>'; expected one of ...").
template <class Kind>
Kind kind_named(const std::vector<Name<Kind>>& names, const std::string& name,
                const char* concept) {
  std::string known;
  for (const auto& entry : names) {
    if (name == entry.name) return entry.kind;
    known += (known.empty() ? "" : ", ") + std::string(entry.name);
  }
  throw std::invalid_argument("unknown " + std::string(concept) + " '" + name +
                              "'; expected one of " + known);
}

// The own name of `kind`: its first entry in the list ("unknown" if it has none).
template <class Kind>
const char* own_name(const std::vector<Name<Kind>>& names, Kind kind) {
  for (const auto& entry : names)
    if (entry.kind == kind) return entry.name;
  return "unknown";
}

}  // namespace nncore
