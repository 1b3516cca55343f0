/*
 * The AArch64 (AAPCS64) context switch for server/coro.c.
 *
 * void coro_switch(void **save_sp, void *load_sp)
 *   Saves the callee-saved registers (x19-x28, the frame pointer x29, the
 *   link register x30, d8-d15) and FPCR in a 176-byte frame on the current
 *   stack, stores sp in *save_sp, loads load_sp and restores the same frame
 *   from there; "ret" then continues at the restored x30. coro.c builds the
 *   first frame of a new coroutine in this layout, with x30 = coro_boot and
 *   the coroutine in x19.
 *
 * void coro_boot(void)
 *   The first code a coroutine runs: calls coro_entry(x19), which never
 *   returns.
 */
#if defined(__aarch64__) && defined(__LP64__) && !defined(CORO_UCONTEXT)

    .text
    .globl coro_switch
    .hidden coro_switch
    .type coro_switch, %function
    .p2align 4
coro_switch:
    .cfi_startproc
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    str x9, [sp, #160]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldr x9, [sp, #160]
    msr fpcr, x9
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #176
    ret
    .cfi_endproc
    .size coro_switch, .-coro_switch

    .globl coro_boot
    .hidden coro_boot
    .type coro_boot, %function
    .p2align 4
coro_boot:
    .cfi_startproc
    /* the outermost frame: debuggers and unwinders stop here */
    .cfi_undefined x30
    mov x0, x19
    bl coro_entry
    brk #0
    .cfi_endproc
    .size coro_boot, .-coro_boot

#endif

    .section .note.GNU-stack, "", %progbits
