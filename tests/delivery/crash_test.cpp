// Being written (issue 4).
#include <gtest/gtest.h>
