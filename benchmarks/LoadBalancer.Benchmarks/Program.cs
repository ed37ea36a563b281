using BenchmarkDotNet.Running;

namespace LoadBalancer.Benchmarks;

public static class Program
{
    /// <summary>Runs the benchmarks chosen by the arguments, e.g. <c>--filter '*' --job dry</c>.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
