# IOPD_CHECK_CFLAG(FLAG, ACTION-IF-OK): does the C compiler accept FLAG (with -Werror)?
AC_DEFUN([IOPD_CHECK_CFLAG], [
  AS_VAR_PUSHDEF([cache], [iopd_cv_cflag_$1])
  AC_CACHE_CHECK([whether $CC accepts $1], [cache], [
    save_CFLAGS=$CFLAGS; CFLAGS="$CFLAGS -Werror $1"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])], [AS_VAR_SET([cache], [yes])], [AS_VAR_SET([cache], [no])])
    CFLAGS=$save_CFLAGS])
  AS_VAR_IF([cache], [yes], [$2])
  AS_VAR_POPDEF([cache])])

# IOPD_CHECK_LDFLAG(FLAG, ACTION-IF-OK)
AC_DEFUN([IOPD_CHECK_LDFLAG], [
  AS_VAR_PUSHDEF([cache], [iopd_cv_ldflag_$1])
  AC_CACHE_CHECK([whether the linker accepts $1], [cache], [
    save_LDFLAGS=$LDFLAGS; LDFLAGS="$LDFLAGS -Werror $1"
    AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])], [AS_VAR_SET([cache], [yes])], [AS_VAR_SET([cache], [no])])
    LDFLAGS=$save_LDFLAGS])
  AS_VAR_IF([cache], [yes], [$2])
  AS_VAR_POPDEF([cache])])

# IOPD_PTHREAD: -pthread is enough on every platform iopd targets (glibc, musl).
AC_DEFUN([IOPD_PTHREAD], [
  IOPD_CHECK_CFLAG([-pthread], [PTHREAD_CFLAGS=-pthread; PTHREAD_LIBS=-pthread])
  AC_SUBST([PTHREAD_CFLAGS])
  AC_SUBST([PTHREAD_LIBS])])
