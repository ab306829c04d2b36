// main() of one training-check program; DISA_CHECK_NAME (set per executable by
// theory_checks/CMakeLists.txt) names the check in training_checks().
#include "theory_checks/training_checks.h"

int main(int argc, char** argv) { return disa::theory::training_check_program_main(DISA_CHECK_NAME, argc, argv); }
