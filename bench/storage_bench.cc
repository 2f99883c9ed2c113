// placeholder: filled in by the storage work in progress
int main() { return 0; }
