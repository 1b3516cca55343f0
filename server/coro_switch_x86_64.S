/*
 * The x86-64 (System V) context switch for server/coro.c.
 *
 * void coro_switch(void **save_sp, void *load_sp)
 *   Pushes the callee-saved registers (rbp, rbx, r12-r15) and the
 *   floating-point control words (MXCSR, x87 control word), stores the
 *   stack pointer in *save_sp, loads load_sp and pops the same frame from
 *   there. Everything else is caller-saved, so the C caller has already
 *   given it up. coro.c builds the first frame of a new coroutine in this
 *   layout, with coro_boot as the return address and the coroutine in r12.
 *
 * void coro_boot(void)
 *   The first code a coroutine runs: calls coro_entry(r12), which never
 *   returns (it switches away for good when the coroutine's function ends).
 */
#if defined(__x86_64__) && defined(__LP64__) && !defined(CORO_UCONTEXT)

    .text
    .globl coro_switch
    .hidden coro_switch
    .type coro_switch, @function
    .p2align 4
coro_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size coro_switch, .-coro_switch

    .globl coro_boot
    .hidden coro_boot
    .type coro_boot, @function
    .p2align 4
coro_boot:
    .cfi_startproc
    /* the outermost frame: debuggers and unwinders stop here */
    .cfi_undefined rip
    movq %r12, %rdi
    call coro_entry
    ud2
    .cfi_endproc
    .size coro_boot, .-coro_boot

#endif

    .section .note.GNU-stack, "", @progbits
