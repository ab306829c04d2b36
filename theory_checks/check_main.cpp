// main() of one theory-check program; DISA_CHECK_NAME (set per executable by
// theory_checks/CMakeLists.txt) names the check in estimator_checks().
#include "theory_checks/estimator_checks.h"

int main(int argc, char** argv) { return disa::theory::check_program_main(DISA_CHECK_NAME, argc, argv); }
