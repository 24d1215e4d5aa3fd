package intercept

// The BPF object is generated from bpf/redirect.c and committed, so building
// sluice needs no clang. Run `make generate` after changing the C source.
//go:generate go tool bpf2go -cc clang-16 -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu" -target bpfel -go-package intercept -type origin -type tuple -type config -type lpm4_key -type lpm6_key redirect ../../bpf/redirect.c
