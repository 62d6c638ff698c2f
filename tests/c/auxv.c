/* Print argc, argv, envp and selected auxiliary vector entries as KEY=value lines. */
#include <stdio.h>
#include <sys/auxv.h>

static void num(const char *name, unsigned long type)
{
    printf("%s=%lu\n", name, getauxval(type));
}

static void hex(const char *name, unsigned long type)
{
    printf("%s=0x%lx\n", name, getauxval(type));
}

int main(int argc, char **argv, char **envp)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    if (argv[argc] != NULL)
        printf("argv_terminator=non-null\n");
    int n = 0;
    for (char **e = envp; *e; e++, n++)
        printf("envp[%d]=%s\n", n, *e);
    printf("envc=%d\n", n);

    hex("AT_PHDR", AT_PHDR);
    num("AT_PHENT", AT_PHENT);
    num("AT_PHNUM", AT_PHNUM);
    num("AT_PAGESZ", AT_PAGESZ);
    hex("AT_ENTRY", AT_ENTRY);
    printf("AT_RANDOM=%s\n", getauxval(AT_RANDOM) ? "nonnull" : "null");
    num("AT_UID", AT_UID);
    num("AT_EUID", AT_EUID);
    num("AT_GID", AT_GID);
    num("AT_EGID", AT_EGID);
    hex("AT_HWCAP", AT_HWCAP);
    num("AT_CLKTCK", AT_CLKTCK);
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    printf("AT_EXECFN=%s\n", execfn ? execfn : "(null)");
    num("AT_SECURE", AT_SECURE);
    return 0;
}
