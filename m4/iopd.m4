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

# IOPD_CHECK_CXXFLAG(FLAG, ACTION-IF-OK): the same for the C++ compiler.
AC_DEFUN([IOPD_CHECK_CXXFLAG], [
  AS_VAR_PUSHDEF([cache], [iopd_cv_cxxflag_$1])
  AC_CACHE_CHECK([whether $CXX accepts $1], [cache], [
    AC_LANG_PUSH([C++])
    save_CXXFLAGS=$CXXFLAGS; CXXFLAGS="$CXXFLAGS -Werror $1"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])], [AS_VAR_SET([cache], [yes])], [AS_VAR_SET([cache], [no])])
    CXXFLAGS=$save_CXXFLAGS
    AC_LANG_POP([C++])])
  AS_VAR_IF([cache], [yes], [$2])
  AS_VAR_POPDEF([cache])])

# IOPD_PHONENUMBER: libphonenumber (C++, no pkg-config file on Debian) and
# ICU's region names, which it depends on anyway.  Sets PHONE_CFLAGS and
# PHONE_LIBS.  PHONE_LIBS also names the C++ runtime: the programs that
# link the core are C programs, linked by the C compiler, and libtool does
# not carry a convenience library's C++ runtime over to them.
AC_DEFUN([IOPD_PHONENUMBER], [
  PKG_CHECK_MODULES([ICU], [icu-uc >= 60])
  AC_LANG_PUSH([C++])
  save_CPPFLAGS=$CPPFLAGS; CPPFLAGS="$CPPFLAGS $ICU_CFLAGS"
  AC_CHECK_HEADER([phonenumbers/phonenumberutil.h], [],
    [AC_MSG_ERROR([libphonenumber headers not found (apt-get install libphonenumber-dev)])])
  save_LIBS=$LIBS; LIBS="-lphonenumber $ICU_LIBS $LIBS"
  AC_MSG_CHECKING([for libphonenumber])
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <phonenumbers/phonenumberutil.h>]],
      [[i18n::phonenumbers::PhoneNumber n;
        return i18n::phonenumbers::PhoneNumberUtil::GetInstance()->IsValidNumber(n);]])],
    [AC_MSG_RESULT([yes])],
    [AC_MSG_RESULT([no]); AC_MSG_ERROR([libphonenumber not found (apt-get install libphonenumber-dev)])])
  LIBS=$save_LIBS; CPPFLAGS=$save_CPPFLAGS
  AC_LANG_POP([C++])
  PHONE_CFLAGS="$ICU_CFLAGS"
  PHONE_LIBS="-lphonenumber $ICU_LIBS -lstdc++"
  AC_SUBST([PHONE_CFLAGS])
  AC_SUBST([PHONE_LIBS])])
