/*===- TestKernels.h - A GPU kernel for the CUDA runtime's tests --*- C -*-===//
 *
 * PTX for out[i] = a[i] + b[i] (f32, i < n), written by hand so that the tests
 * need no CUDA toolkit. The driver compiles it for whatever GPU is present;
 * the terminating NUL is part of the image, as cuModuleLoadData wants.
 *
 *   .entry nibble_test_add(.u64 a, .u64 b, .u64 out, .u32 n)
 *
 *===----------------------------------------------------------------------===*/
#ifndef NIBBLE_UNITTESTS_RUNTIME_TESTKERNELS_H
#define NIBBLE_UNITTESTS_RUNTIME_TESTKERNELS_H

/* Not const: mgpuModuleLoad takes a void *, as MLIR declares it. */
static char NibbleTestPtx[] = ".version 6.0\n"
                              ".target sm_50\n"
                              ".address_size 64\n"
                              "\n"
                              ".visible .entry nibble_test_add(\n"
                              "  .param .u64 param_a,\n"
                              "  .param .u64 param_b,\n"
                              "  .param .u64 param_out,\n"
                              "  .param .u32 param_n)\n"
                              "{\n"
                              "  .reg .pred %p<2>;\n"
                              "  .reg .f32 %f<4>;\n"
                              "  .reg .b32 %r<6>;\n"
                              "  .reg .b64 %rd<11>;\n"
                              "  ld.param.u64 %rd1, [param_a];\n"
                              "  ld.param.u64 %rd2, [param_b];\n"
                              "  ld.param.u64 %rd3, [param_out];\n"
                              "  ld.param.u32 %r2, [param_n];\n"
                              "  mov.u32 %r3, %ctaid.x;\n"
                              "  mov.u32 %r4, %ntid.x;\n"
                              "  mov.u32 %r5, %tid.x;\n"
                              "  mad.lo.s32 %r1, %r3, %r4, %r5;\n"
                              "  setp.ge.u32 %p1, %r1, %r2;\n"
                              "  @%p1 bra DONE;\n"
                              "  mul.wide.u32 %rd5, %r1, 4;\n"
                              "  cvta.to.global.u64 %rd4, %rd1;\n"
                              "  add.s64 %rd6, %rd4, %rd5;\n"
                              "  cvta.to.global.u64 %rd7, %rd2;\n"
                              "  add.s64 %rd8, %rd7, %rd5;\n"
                              "  ld.global.f32 %f1, [%rd6];\n"
                              "  ld.global.f32 %f2, [%rd8];\n"
                              "  add.f32 %f3, %f1, %f2;\n"
                              "  cvta.to.global.u64 %rd9, %rd3;\n"
                              "  add.s64 %rd10, %rd9, %rd5;\n"
                              "  st.global.f32 [%rd10], %f3;\n"
                              "DONE:\n"
                              "  ret;\n"
                              "}\n";

#endif /* NIBBLE_UNITTESTS_RUNTIME_TESTKERNELS_H */
