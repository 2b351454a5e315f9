// Being written (issue 3).
int main() { return 0; }
