#include <cstdio>

#include "app/commands.h"

int main(int argc, char** argv) { return kamwatch::app::main_dispatch(argc, argv); }
